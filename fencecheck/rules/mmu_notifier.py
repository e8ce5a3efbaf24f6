"""Context: mmu notifier callbacks, which reclaim and page migration call."""
from __future__ import annotations

from .base import ContextRule, RuleDoc, entries_from_ops

ID = "ctx_mmu_notifier"
CONTEXT = "mmu_notifier"
OPS = {
    "mmu_notifier_ops": ("invalidate_range_start", "invalidate_range_end", "invalidate_range",
                         "arch_invalidate_secondary_tlbs"),
    "mmu_interval_notifier_ops": ("invalidate",),
}

DOC = RuleDoc(
    title="mmu notifier callbacks run inside reclaim and page-table updates",
    finds="Functions bound to struct mmu_notifier_ops invalidate callbacks and struct "
          "mmu_interval_notifier_ops .invalidate.",
    why="Reclaim, migration and munmap call them with locks held that are ordered after the "
        "dma_resv lock and fs_reclaim; a callback that allocates with reclaim, takes a "
        "reservation lock or faults can deadlock against its own caller.",
    example="static bool foo_invalidate(struct mmu_interval_notifier *mni,\n"
            "\t\t\t   const struct mmu_notifier_range *range, unsigned long cur_seq)\n"
            "{\n\tdma_resv_lock(bo->resv, NULL);   /* forbidden */\n}",
    fix="Wait for the fences with dma_resv_wait_timeout() without taking the lock, and allocate "
        "nothing.",
)


def find(program, config) -> list:
    return entries_from_ops(program, OPS, CONTEXT)


RULE = ContextRule(ID, CONTEXT, DOC, find)
