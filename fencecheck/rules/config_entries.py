"""Context: entry points and ops fields a driver declares in its config."""
from __future__ import annotations

from .base import ContextRule, Entry, RuleDoc, entries_from_ops

ID = "ctx_config"
CONTEXT = "signalling"

DOC = RuleDoc(
    title="Entry points declared in [tool.fencecheck] or .fencecheck.toml",
    finds="Functions listed under `entries` (with their context) and functions bound to the "
          "struct fields listed under `ops` in the scanned tree's config.",
    why="Some drivers have signalling paths no generic rule can see: GPU page-fault handlers on "
        "hardware that cannot preempt, driver-private queueing without drm_sched.",
    example="[tool.fencecheck]\nentries = [{ function = \"foo_gpu_fault\", context = \"signalling\" }]\n"
            "ops = [{ struct = \"foo_ring_funcs\", field = \"emit_fence\", context = \"signalling\" }]",
    fix="As for the built-in contexts.",
)


def find(program, config) -> list:
    entries = []
    for e in config.entries:
        for fid in program.by_name.get(e.function, ()):
            f = program.funcs[fid]
            entries.append(Entry(e.context, fid, e.reason or "declared in the fencecheck config",
                                 f.file, f.fn.line))
    for o in config.ops:
        entries.extend(entries_from_ops(program, {o.struct: (o.field,)}, o.context))
    return entries


RULE = ContextRule(ID, CONTEXT, DOC, find)
