"""user_fault: touching user memory or mmap_lock where a fence must signal."""
from __future__ import annotations

from .base import NameSet, RuleDoc, SinkRule, forbid_every_call

ID = "user_fault"
TAGS = ("correctness", "deadlock", "dma-fence")
PRECISION = "high"   # SARIF properties.precision

USER_APIS = (
    "copy_from_user", "copy_to_user", "__copy_from_user", "__copy_to_user",
    "copy_from_user_nofault", "get_user", "put_user", "__get_user", "__put_user",
    "strncpy_from_user", "clear_user", "memdup_user", "memdup_user_nul", "vmemdup_user",
    "strndup_user", "get_user_pages*", "pin_user_pages*", "pin_user_pages_fast",
    "get_user_pages_fast", "mmap_read_lock", "mmap_write_lock", "mmap_read_lock_killable",
    "mmap_write_lock_killable",
    "hmm_range_fault", "kstrdup_quotable_cmdline", "get_task_cmdline", "access_process_vm",
    "get_cmdline",
)

DOC = RuleDoc(
    title="User memory access or mmap_lock on a path the contract forbids it on",
    finds=("A call path from a fence signalling path, a shrinker or an mmu notifier callback to a "
           "user-memory access (copy_from_user, get_user, get_user_pages, pin_user_pages...), "
           "mmap_lock, or a helper that takes it (kstrdup_quotable_cmdline, access_process_vm)."),
    why=("A page fault on user memory takes mmap_lock, and mmap_lock is ordered before the "
         "dma_resv lock and reclaim: a fault handler can hold it while it waits for a fence "
         "(through reclaim or an mmu notifier). A signalling path that faults or takes mmap_lock "
         "can therefore wait for its own waiter."),
    example=("static struct dma_fence *foo_timedout_job(struct drm_sched_job *job)\n"
             "{\n"
             "\tchar *cmd = kstrdup_quotable_cmdline(task, GFP_ATOMIC); /* takes mmap_lock */\n"
             "\t...\n"
             "}"),
    fix=("Copy user data and resolve user pages in the ioctl, before the job is armed; record "
         "what hang reports need (task name, pid) at submit time."),
)


def make_rule(extra_names=()) -> SinkRule:
    return SinkRule(
        id=ID, doc=DOC,
        forbidden_in={"signalling": (), "reclaim": (), "mmu_notifier": ()},
        api=NameSet(USER_APIS + tuple(extra_names)),
        match=forbid_every_call("may fault on user memory or take mmap_lock"),
        fix_hint="copy from user space in the ioctl, before the job is armed",
    )
