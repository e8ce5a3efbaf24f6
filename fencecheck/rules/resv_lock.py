"""resv_lock: a blocking dma_resv (ww_mutex) lock where a fence must signal."""
from __future__ import annotations

from .base import NameSet, RuleDoc, SinkRule, forbid_every_call

ID = "resv_lock"
TAGS = ("correctness", "deadlock", "dma-fence")
PRECISION = "high"   # SARIF properties.precision

# Core APIs and well-known wrappers that block on a reservation lock.  Bare
# ww_mutex_lock is absent: it also serves drm_modeset_lock and other ww classes.  Driver
# wrappers (msm_gem_lock...) need no entry: the call graph shows them reaching
# one of these.  Trylocks are absent on purpose: they never wait.
LOCK_APIS = (
    "dma_resv_lock", "dma_resv_lock_interruptible", "dma_resv_lock_slow",
    "dma_resv_lock_slow_interruptible",
    "ttm_bo_reserve", "ttm_bo_reserve_slowpath", "ttm_eu_reserve_buffers",
    "drm_exec_lock_obj", "drm_exec_prepare_obj", "drm_exec_prepare_array",
    "drm_gem_lock_reservations", "drm_gem_object_lock", "i915_gem_object_lock",
    "i915_gem_object_lock_interruptible", "drm_gpuvm_prepare_objects", "drm_gpuvm_prepare_vm",
    "drm_gpuvm_exec_lock", "drm_gem_vmap_unlocked", "drm_gem_vunmap_unlocked",
    "dma_buf_vmap_unlocked", "dma_buf_map_attachment_unlocked", "dma_buf_pin",
)

DOC = RuleDoc(
    title="Blocking dma_resv lock on a path the contract forbids it on",
    finds=("A call path from a fence signalling path, a shrinker or an mmu notifier callback to a "
           "blocking dma_resv lock (dma_resv_lock and its variants, ttm_bo_reserve, "
           "drm_exec_lock_obj, or any driver wrapper whose body reaches one)."),
    why=("Code holding a dma_resv lock may wait for a fence (TTM eviction does exactly that), and "
         "dma_resv_lockdep() orders the reservation lock before fs_reclaim and the mmu notifier. "
         "If the code a fence needs in order to signal takes a reservation lock, a holder of that "
         "lock waiting for the fence and the signaller waiting for the lock block each other."),
    example=("static struct dma_fence *foo_run_job(struct drm_sched_job *job)\n"
             "{\n"
             "\tdma_resv_lock(bo->resv, NULL);   /* may wait for a thread that waits for this job */\n"
             "\t...\n"
             "}\n"
             "static const struct drm_sched_backend_ops foo_sched_ops = { .run_job = foo_run_job };"),
    fix=("Take reservation locks and pin or populate what the job needs at submit time, before the "
         "job is armed; on the signalling path use dma_resv_trylock() and back off, or track the "
         "state under a driver lock that is never held across allocations or fence waits."),
)


def make_rule(extra_names=()) -> SinkRule:
    return SinkRule(
        id=ID, doc=DOC,
        forbidden_in={"signalling": (), "reclaim": (), "mmu_notifier": ()},
        api=NameSet(LOCK_APIS + tuple(extra_names)), match=forbid_every_call("blocks on a dma_resv lock"),
        fix_hint="take the reservation lock before the job is armed, or use dma_resv_trylock()",
    )
