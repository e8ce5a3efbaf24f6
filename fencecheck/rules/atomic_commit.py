"""Context: the atomic commit tail, which signals out-fences and vblank events."""
from __future__ import annotations

from .base import ContextRule, RuleDoc, entries_from_ops

ID = "ctx_atomic_commit"
CONTEXT = "signalling"
OPS = {"drm_mode_config_helper_funcs": ("atomic_commit_tail",)}

DOC = RuleDoc(
    title="The atomic commit tail is on the fence signalling path",
    finds="Functions bound to struct drm_mode_config_helper_funcs .atomic_commit_tail.",
    why="By the time the commit tail runs, the commit's out-fences and vblank events are armed: "
        "they signal only when the tail completes, so the tail must not wait on anything that "
        "waits for fences.",
    example="static const struct drm_mode_config_helper_funcs foo_mode_config_helpers = {\n"
            "\t.atomic_commit_tail = foo_atomic_commit_tail,\n};",
    fix="Allocate per-commit state in atomic_check or atomic_commit before the tail, or with "
        "GFP_NOWAIT.",
)


def find(program, config) -> list:
    return entries_from_ops(program, OPS, CONTEXT)


RULE = ContextRule(ID, CONTEXT, DOC, find)
