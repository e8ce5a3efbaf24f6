"""held_lock: a lock taken on a protected path and held elsewhere across a forbidden operation."""
from __future__ import annotations

from .base import RuleDoc

ID = "held_lock"
TAGS = ("correctness", "deadlock", "dma-fence", "lock-order")
PRECISION = "medium"   # SARIF properties.precision

# lock API -> index of the lock argument.  Trylocks are absent: they never
# wait, so they cannot close a cycle.
ACQUIRE = {
    "mutex_lock": 0, "mutex_lock_interruptible": 0, "mutex_lock_killable": 0, "mutex_lock_nested": 0,
    "mutex_lock_io": 0, "mutex_lock_interruptible_nested": 0,
    "spin_lock": 0, "spin_lock_irq": 0, "spin_lock_irqsave": 0, "spin_lock_bh": 0, "spin_lock_nested": 0,
    "spin_lock_irqsave_nested": 0, "raw_spin_lock": 0, "raw_spin_lock_irq": 0, "raw_spin_lock_irqsave": 0,
    "read_lock": 0, "read_lock_irq": 0, "read_lock_irqsave": 0, "read_lock_bh": 0,
    "write_lock": 0, "write_lock_irq": 0, "write_lock_irqsave": 0, "write_lock_bh": 0,
    "down_read": 0, "down_write": 0, "down_read_killable": 0, "down_write_killable": 0,
    "down_read_interruptible": 0, "down_read_nested": 0, "down_write_nested": 0,
    "xa_lock": 0, "xa_lock_irq": 0, "xa_lock_irqsave": 0,
    "ww_mutex_lock": 0, "ww_mutex_lock_interruptible": 0, "ww_mutex_lock_slow": 0,
    "ww_mutex_lock_slow_interruptible": 0,
}
RELEASE = {
    "mutex_unlock": 0, "spin_unlock": 0, "spin_unlock_irq": 0, "spin_unlock_irqrestore": 0,
    "spin_unlock_bh": 0, "raw_spin_unlock": 0, "raw_spin_unlock_irq": 0, "raw_spin_unlock_irqrestore": 0,
    "read_unlock": 0, "read_unlock_irq": 0, "read_unlock_irqrestore": 0, "read_unlock_bh": 0,
    "write_unlock": 0, "write_unlock_irq": 0, "write_unlock_irqrestore": 0, "write_unlock_bh": 0,
    "up_read": 0, "up_write": 0, "xa_unlock": 0, "xa_unlock_irq": 0, "xa_unlock_irqrestore": 0,
    "ww_mutex_unlock": 0,
}
# Scoped locks: call name -> (lock argument index, covers the following block).
# `guard(mutex)(&l)` is recorded as a call named "guard()" whose argument is &l.
SCOPED = {"guard()": (0, False), "scoped_guard": (1, True), "scoped_cond_guard": (2, True)}
# Lock types whose guard() is not a lock (rcu, preemption, irqs): the first
# argument of the inner guard(...) call.
NOT_LOCKS = frozenset({"rcu", "preempt", "irq", "irqsave", "migrate", "preempt_notrace", "srcu"})

# Sinks that close a cycle when held across under a lock the context takes.
# A shrinker may allocate itself (PF_MEMALLOC), but a lock it takes must not
# be held elsewhere across an allocation that reclaims: reclaim would wait
# for the shrinker, the shrinker for the lock.
HOLDER_SINKS = {
    "signalling": ("resv_lock", "reclaim_alloc", "fence_wait", "user_fault"),
    "reclaim": ("resv_lock", "reclaim_alloc", "user_fault"),
    "mmu_notifier": ("resv_lock", "reclaim_alloc", "user_fault"),
}

DOC = RuleDoc(
    title="Lock taken on a protected path and held elsewhere across a forbidden operation",
    finds=("A lock L (identified by its class: struct type and field, or a file-scope lock) that is "
           "acquired on a fence signalling path, in a shrinker or in an mmu notifier, while some other "
           "path in the tree holds L across an operation that context forbids (a reclaiming "
           "allocation, a dma_resv lock, a fence wait, a user fault). Both paths are shown."),
    why=("This is the circular dependency lockdep reports when both paths run on a test machine: "
         "the other path holds L and waits for reclaim or a fence; reclaim or the fence waits for "
         "the signalling path; the signalling path waits for L."),
    example=("/* free_job path, runs on the signalling thread */\n"
             "spin_lock(&queue->idr_lock); idr_remove(&queue->fence_idr, id); spin_unlock(&queue->idr_lock);\n"
             "/* submit ioctl */\n"
             "spin_lock(&queue->idr_lock);\n"
             "id = idr_alloc_cyclic(&queue->fence_idr, fence, 1, INT_MAX, GFP_KERNEL);   /* reclaim under L */\n"
             "spin_unlock(&queue->idr_lock);"),
    fix=("Never hold L across the operation: preallocate before taking it (idr_preload(GFP_KERNEL) "
         "then GFP_NOWAIT under the lock), or split L so the signalling path uses a lock that is "
         "never held across allocations or waits."),
)
