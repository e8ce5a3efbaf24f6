"""Context: work items, irq handlers and timers that signal fences."""
from __future__ import annotations

from .base import ContextRule, Entry, RuleDoc

ID = "ctx_async_signallers"
CONTEXT = "signalling"
SIGNAL_APIS = ("dma_fence_signal", "dma_fence_signal_locked", "dma_fence_signal_timestamp",
               "dma_fence_signal_timestamp_locked")
# Registration kinds (rules/framework.py REGISTRATIONS) whose function runs asynchronously.
KINDS = frozenset({"work", "kthread_work", "timer", "hrtimer", "tasklet", "irq", "irq_work"})
SIGNAL_DEPTH = 4

DOC = RuleDoc(
    title="Asynchronous signallers: work items, irq handlers and timers that signal fences",
    finds="Functions registered with INIT_WORK, kthread_init_work, request_irq and its threaded "
          "and devm forms, timer_setup, tasklets or an hrtimer .function whose body reaches "
          "dma_fence_signal*(), such as a retire worker or a hang-recovery worker that "
          "force-signals jobs.",
    why="Fences signalled from there signal only when that function gets through: it is on the "
        "signalling path of every fence it signals.",
    example="static void foo_retire_work(struct work_struct *w)\n{\n"
            "\tbuf = kmalloc(len, GFP_KERNEL);   /* forbidden */\n"
            "\tdma_fence_signal(job->done);\n}\n...\nINIT_WORK(&gpu->retire_work, foo_retire_work);",
    fix="Preallocate what the signaller needs; keep allocation and locking out of it.",
)


def _signals(program, fid: int) -> bool:
    """Whether the function signals a fence itself or through its own helpers:
    direct calls within its driver unit, at most SIGNAL_DEPTH calls deep.  A
    function that reaches a signal only through the whole driver (resets,
    teardown, ops tables) is not, by that alone, an asynchronous signaller."""
    home = program.funcs[fid].unit
    frontier = [fid]
    seen = {fid}
    for _ in range(SIGNAL_DEPTH):
        nxt = []
        for f in frontier:
            fn = program.funcs[f].fn
            for i, call in enumerate(fn.calls):
                if call.callee in SIGNAL_APIS:
                    return True
                for g in program.call_targets(f, i):
                    gf = program.funcs[g]
                    if g not in seen and gf.fn.name == call.callee and gf.unit == home:
                        seen.add(g)
                        nxt.append(g)
        frontier = nxt
    return False


def find(program, config) -> list:
    entries = []
    for r in program.registrations:
        if r.kind in KINDS and _signals(program, r.fid):
            entries.append(Entry(CONTEXT, r.fid, f"{r.kind} function registered with {r.api} and reaching "
                                 "dma_fence_signal()", r.file, r.line))
    return entries


RULE = ContextRule(ID, CONTEXT, DOC, find)
