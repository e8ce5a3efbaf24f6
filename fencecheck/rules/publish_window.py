"""Context: the publish window of a submit path."""
from __future__ import annotations

from ..analyzer.flow import calls_in_scope
from .base import ContextRule, Entry, RuleDoc

ID = "ctx_publish_window"
CONTEXT = "signalling"
# Adding the job's fence to a reservation object publishes it: from then on
# other threads may wait for it.  Arming alone (drm_sched_job_arm) does not.
PUBLISH = ("dma_resv_add_fence", "dma_resv_add_excl_fence", "dma_resv_add_shared_fence",
           "ttm_eu_fence_buffer_objects", "drm_gpuvm_resv_add_fence", "drm_exec_resv_add_fence")
# Queueing the job ends the window: the scheduler takes over.
QUEUE = ("drm_sched_entity_push_job",)

DOC = RuleDoc(
    title="The window between publishing a job's fence and queueing the job",
    finds="Calls made after a submit path added the job's fence to a dma_resv (dma_resv_add_fence "
          "or a driver helper whose body does it) and before it queued the job "
          "(drm_sched_entity_push_job, or any driver function that reaches it).",
    why="Once the fence is in a reservation object, eviction and other submitters may wait for "
        "it, but it cannot signal before the job is queued: everything in between is on its "
        "signalling path.",
    example="dma_resv_add_fence(obj->resv, &job->base.s_fence->finished, DMA_RESV_USAGE_WRITE);\n"
            "list = kmalloc(sizeof(*list), GFP_KERNEL);   /* forbidden */\n"
            "drm_sched_entity_push_job(&job->base);",
    fix="Allocate before publishing the fence; publish immediately before queueing.",
)


def _helpers(program, apis: set[str]) -> set[int]:
    """Driver helpers that call one of ``apis`` themselves (one level: a helper
    that publishes, not everything that eventually does)."""
    return {fid for name in apis for fid, _ in program.callers_by_name.get(name, ())}


def find(program, config) -> list:
    publish = set(PUBLISH) | set(config.publish)
    queue = set(QUEUE) | set(config.queue)
    publishers = _helpers(program, publish)
    # a job may be queued deep inside a driver's own push helper
    queuers = program.reaching(queue)
    candidates = publishers | {c for fid in publishers for c in program.graph.predecessors(fid)}
    entries = []
    for fid in sorted(candidates):
        fn = program.funcs.fn[fid]

        def direct(i, helpers, names, fid=fid, fn=fn):
            callee = fn.calls.callee(i)
            if callee in names:
                return True
            return any(t in helpers and program.funcs.fn[t].name == callee
                       for t in program.call_targets(fid, i))

        def opens(i):
            return direct(i, publishers - queuers, publish)

        def closes(i, fid=fid, fn=fn):
            return fn.calls.callee(i) in queue or any(t in queuers for t in program.call_targets(fid, i))

        if not any(closes(i) for i in range(len(fn.calls))):
            continue
        inside = calls_in_scope(fn.skeleton(), opens, closes)
        if inside:
            first = min(fn.calls[i].line for i in range(len(fn.calls)) if opens(i))
            entries.append(Entry(CONTEXT, fid, f"publish window: fence added to a dma_resv at line {first}, "
                                 "before the job is queued", program.funcs.file[fid], first, frozenset(inside)))
    return entries


RULE = ContextRule(ID, CONTEXT, DOC, find)
