"""Context: explicit fence signalling critical sections."""
from __future__ import annotations

from ..analyzer.flow import calls_in_scope
from .base import ContextRule, Entry, RuleDoc

ID = "ctx_signalling_section"
CONTEXT = "signalling"
OPEN = frozenset({"dma_fence_begin_signalling"})
CLOSE = frozenset({"dma_fence_end_signalling"})

DOC = RuleDoc(
    title="Code between dma_fence_begin_signalling() and dma_fence_end_signalling()",
    finds="Calls made while a signalling section opened with dma_fence_begin_signalling() is "
          "open; the section ends on every path that calls dma_fence_end_signalling(), and a "
          "branch that ends it and returns does not end it for the code after the branch.",
    why="The driver annotated this code as required for a fence to signal: lockdep checks it "
        "only on the paths a test runs, this rule on all of them.",
    example="cookie = dma_fence_begin_signalling();\n"
            "obj = kmalloc(sizeof(*obj), GFP_KERNEL);   /* forbidden */\n"
            "dma_fence_end_signalling(cookie);",
    fix="Move the work before dma_fence_begin_signalling(), or use GFP_NOWAIT.",
)


def find(program, config) -> list:
    entries = []
    seen = set()
    for name in sorted(OPEN):
        for fid, idx in program.callers_by_name.get(name, ()):
            if fid in seen:
                continue
            seen.add(fid)
            fn = program.funcs.fn[fid]
            inside = calls_in_scope(fn.skeleton(), lambda i: fn.calls.callee(i) in OPEN,
                                    lambda i: fn.calls.callee(i) in CLOSE)
            if inside:
                entries.append(Entry(CONTEXT, fid, f"signalling section opened at line {fn.calls[idx].line}",
                                     program.funcs.file[fid], fn.calls[idx].line, frozenset(inside)))
    return entries


RULE = ContextRule(ID, CONTEXT, DOC, find)
