"""Context: shrinker callbacks, which run inside memory reclaim."""
from __future__ import annotations

from .base import ContextRule, RuleDoc, entries_from_ops

ID = "ctx_shrinker"
CONTEXT = "reclaim"
# Bound by designated initializer (register_shrinker) or by assignment
# `s->scan_objects = fn` after shrinker_alloc() (6.7+).
OPS = {"shrinker": ("count_objects", "scan_objects")}

DOC = RuleDoc(
    title="Shrinker callbacks run inside memory reclaim",
    finds="Functions bound to struct shrinker .count_objects / .scan_objects.",
    why="Reclaim may run them from any allocation that enters direct reclaim, including one made "
        "while a dma_resv lock is held; they may wait for fences (inside drivers/gpu), but must "
        "not take a reservation lock with a blocking call or touch user memory.",
    example="static unsigned long foo_shrinker_scan(struct shrinker *s, struct shrink_control *sc)\n"
            "{\n\tdma_resv_lock(obj->resv, NULL);   /* use dma_resv_trylock() */\n}",
    fix="Use dma_resv_trylock() and skip busy objects.",
)


def find(program, config) -> list:
    return entries_from_ops(program, OPS, CONTEXT)


RULE = ContextRule(ID, CONTEXT, DOC, find)
