"""Rule modules: sinks (what is forbidden) and contexts (where).

Add a sink: a module with ``ID``, ``DOC`` and ``make_rule(extra)`` returning a
``SinkRule``, listed in ``SINK_MODULES``.  Add a context: a module with a
``RULE = ContextRule(...)`` listed in ``CONTEXT_MODULES``.
"""
from __future__ import annotations

from . import (async_signallers, atomic_commit, config_entries, dma_fence_callbacks, drm_sched,
               fence_wait, held_lock, mmu_notifier, publish_window, reclaim_alloc, resv_lock,
               shrinker, signalling_section, user_fault)
from .base import ContextRule, SinkRule

SINK_MODULES = (resv_lock, reclaim_alloc, fence_wait, user_fault)
# Rules over pairs of paths (a context's lock against a holder elsewhere).
INVERSION_MODULES = (held_lock,)
CONTEXT_MODULES = (drm_sched, atomic_commit, dma_fence_callbacks, signalling_section, publish_window,
                   async_signallers, shrinker, mmu_notifier, config_entries)


def sink_rules(config) -> list[SinkRule]:
    rules = []
    for module in SINK_MODULES:
        if module.ID in config.disable:
            continue
        extra = config.sinks.get(module.ID)
        rules.append(module.make_rule(extra) if extra else module.make_rule())
    return rules


def context_rules(config) -> list[ContextRule]:
    return [m.RULE for m in CONTEXT_MODULES if m.RULE.id not in config.disable]


def all_docs() -> dict[str, tuple[str, object]]:
    """rule id -> (kind, RuleDoc) for every rule, sinks first."""
    docs = {m.ID: ("sink", m.DOC) for m in SINK_MODULES}
    docs.update({m.ID: ("lock", m.DOC) for m in INVERSION_MODULES})
    docs.update({m.RULE.id: ("context", m.RULE.doc) for m in CONTEXT_MODULES})
    return docs
