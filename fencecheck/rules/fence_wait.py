"""fence_wait: waiting for a fence where a fence must signal."""
from __future__ import annotations

from .base import Hit, NamedTable, RuleDoc, SinkRule

ID = "fence_wait"
TAGS = ("correctness", "deadlock", "dma-fence")
PRECISION = "high"   # SARIF properties.precision

# API -> index of its timeout argument (a literal 0 means "test, don't wait"),
# or None when it always waits.
WAIT_APIS = {
    "dma_fence_wait": None,
    "dma_fence_wait_timeout": 2,
    "dma_fence_wait_any_timeout": 3,
    "dma_fence_default_wait": 2,
    "dma_resv_wait_timeout": 3,
    "dma_resv_wait_timeout_rcu": 3,
    "drm_sched_entity_flush": 1,
    "i915_request_wait": 2,
    "ttm_bo_wait": None,
    "ttm_bo_wait_ctx": None,
}

# Fences in drivers/gpu are waited for in reclaim and mmu notifiers by design
# (the contract allows it there); outside drivers/gpu it is a bug.
GPU_DRIVERS = ("drivers/gpu/",)

DOC = RuleDoc(
    title="Fence wait on a path the contract forbids it on",
    finds=("A call path from a fence signalling path to a wait for another fence "
           "(dma_fence_wait, dma_fence_wait_timeout, dma_resv_wait_timeout with a non-zero "
           "timeout, drm_sched_entity_flush, driver wait helpers); and from shrinkers or mmu "
           "notifiers outside drivers/gpu, where the contract does not allow fence waits at all."),
    why=("A fence may only depend on fences that signal independently of it. Waiting for another "
         "fence on the signalling path makes this fence depend on that one, and through reclaim, "
         "mmu notifiers and dma_resv locks on anything that waits for this fence: a cycle lockdep "
         "reports as dma_fence_map against itself."),
    example=("static void foo_timeout_work(struct work_struct *w)\n"
             "{\n"
             "\tdma_fence_wait(other, false);    /* other may need this job's fence */\n"
             "\tdma_fence_signal(job->done);\n"
             "}"),
    fix=("Make the dependency explicit before arming (drm_sched_job_add_dependency) and let the "
         "scheduler order the jobs; poll with dma_fence_is_signaled() where waiting is optional."),
)


def make_rule(extra_names=()) -> SinkRule:
    table = NamedTable.of({**WAIT_APIS, **{n: None for n in extra_names}})

    def match(callee: str, args: tuple[str, ...], func) -> Hit | None:
        timeout = table.get(callee)
        if timeout is not None and timeout < len(args) and args[timeout].strip() in ("0", "0L", "0UL"):
            return None   # a zero timeout only tests the fence
        return Hit(f"{callee}(), which waits for a fence")

    return SinkRule(
        id=ID, doc=DOC,
        forbidden_in={"signalling": (), "reclaim": GPU_DRIVERS, "mmu_notifier": GPU_DRIVERS},
        api=table, match=match,
        fix_hint="add the fence as a scheduler dependency instead of waiting for it",
    )
