"""Context: work items, irq handlers and timers that signal fences."""
from __future__ import annotations

from ..analyzer.flow import calls_before
from .base import ContextRule, Entry, RuleDoc

ID = "ctx_async_signallers"
CONTEXT = "signalling"
SIGNAL_APIS = ("dma_fence_signal", "dma_fence_signal_locked", "dma_fence_signal_timestamp",
               "dma_fence_signal_timestamp_locked")
# Registration kinds (rules/framework.py REGISTRATIONS) whose function runs asynchronously.
KINDS = frozenset({"work", "kthread_work", "timer", "hrtimer", "tasklet", "irq", "irq_work"})
SIGNAL_DEPTH = 4
# A function that frees the object its work item is embedded in (a local set
# from container_of) runs once; any other may run again for the next fence.
FREE_APIS = frozenset({"kfree", "kvfree", "kfree_rcu", "kfree_sensitive", "kmem_cache_free"})

DOC = RuleDoc(
    title="Asynchronous signallers: work items, irq handlers and timers that signal fences",
    finds="Functions registered with INIT_WORK, kthread_init_work, request_irq and its threaded "
          "and devm forms, timer_setup, tasklets or an hrtimer .function whose body reaches "
          "dma_fence_signal*(), such as a retire worker or a hang-recovery worker that "
          "force-signals jobs. All of such a function is checked, also after it signals: a "
          "worker stuck there holds up its next run and the fences that run would signal. "
          "The exception is a function that frees its own container (a release work): it runs "
          "once, and what it does after its last signal holds up no fence.",
    why="Fences signalled from there signal only when that function gets through: it is on the "
        "signalling path of every fence it signals.",
    example="static void foo_retire_work(struct work_struct *w)\n{\n"
            "\tbuf = kmalloc(len, GFP_KERNEL);   /* forbidden */\n"
            "\tdma_fence_signal(job->done);\n}\n...\nINIT_WORK(&gpu->retire_work, foo_retire_work);",
    fix="Preallocate what the signaller needs; keep allocation and locking out of it.",
)


def _signalling_calls(program, fid: int, memo: dict[tuple[int, int], bool]) -> set[int]:
    """The calls through which the function signals a fence: itself or through
    its own helpers (direct calls within its driver unit, at most SIGNAL_DEPTH
    calls deep).  A function that reaches a signal only through the whole
    driver (resets, teardown, ops tables) is not, by that alone, an
    asynchronous signaller.  ``memo`` is shared by all registrations."""

    def signals_within(f: int, levels: int) -> bool:
        """Whether f, or its helpers fewer than ``levels`` calls below it, signal."""
        known = memo.get((f, levels))
        if known is None:
            known = any(c in SIGNAL_APIS for c in program.funcs.fn[f].calls.callees()) or levels > 1 and any(
                signals_within(g, levels - 1) for g in _own_helpers(program, f))
            memo[(f, levels)] = known
        return known

    try:
        return {i for i, callee in enumerate(program.funcs.fn[fid].calls.callees())
                if callee in SIGNAL_APIS
                or any(signals_within(g, SIGNAL_DEPTH - 1) for g in _own_helpers(program, fid, i))}
    finally:
        signals_within = None   # it calls itself through its closure: a cycle a GC-off scan would keep


def _own_helpers(program, fid: int, only: int | None = None):
    """Functions that ``fid`` (or its call ``only``) calls by name within its own driver unit."""
    home = program.funcs.unit[fid]
    calls = program.funcs.fn[fid].calls
    for i in (range(len(calls)) if only is None else (only,)):
        for g in program.call_targets(fid, i):
            gf = program.funcs[g]
            if gf.fn.name == calls.callee(i) and gf.unit == home:
                yield g


def _runs_once(fn) -> bool:
    containers = {name for name, (_, init) in fn.locals.items() if "container_of" in init}
    calls = fn.calls
    return any(callee in FREE_APIS and any(a.strip() in containers for a in calls.args(i))
               for i, callee in enumerate(calls.callees()))


def find(program, config) -> list:
    entries = []
    memo: dict[tuple[int, int], bool] = {}
    for r in program.registrations:
        if r.kind not in KINDS:
            continue
        signalling = _signalling_calls(program, r.fid, memo)
        if not signalling:
            continue
        fn = program.funcs.fn[r.fid]
        how = f"{r.kind} function registered with {r.api} and reaching dma_fence_signal()"
        if _runs_once(fn):
            # kfd_process_wq_release frees BOs once the eviction fence is signalled
            before = calls_before(fn.skeleton(), signalling.__contains__)
            entries.append(Entry(CONTEXT, r.fid, how + ", once (it frees its container)", r.file, r.line,
                                 frozenset(before)))
        else:
            entries.append(Entry(CONTEXT, r.fid, how, r.file, r.line))
    return entries


RULE = ContextRule(ID, CONTEXT, DOC, find)
