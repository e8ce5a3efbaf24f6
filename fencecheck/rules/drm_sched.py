"""Context: drm_sched backend callbacks, which run on the scheduler's signalling path."""
from __future__ import annotations

from .base import ContextRule, RuleDoc, entries_from_ops

ID = "ctx_drm_sched"
CONTEXT = "signalling"
# run_job and free_job run on the scheduler thread (or ordered workqueue)
# that signals; prepare_job/dependency run right before run_job;
# timedout_job is hang recovery, which force-signals fences.
OPS = {"drm_sched_backend_ops": ("run_job", "timedout_job", "free_job", "prepare_job", "dependency")}

DOC = RuleDoc(
    title="drm_sched backend callbacks are on the fence signalling path",
    finds="Functions bound to struct drm_sched_backend_ops .run_job, .timedout_job, .free_job, "
          ".prepare_job and (older kernels) .dependency.",
    why="The scheduler calls them from the thread that must make progress for the job's fence to "
        "signal; anything they wait for can never wait for that fence.",
    example="static const struct drm_sched_backend_ops foo_sched_ops = {\n"
            "\t.run_job = foo_run_job,\n\t.timedout_job = foo_timedout_job,\n"
            "\t.free_job = foo_free_job,\n};",
    fix="Do allocations, reservation locking and user copies in the submit ioctl, before "
        "drm_sched_job_arm().",
)


def find(program, config) -> list:
    return entries_from_ops(program, OPS, CONTEXT)


RULE = ContextRule(ID, CONTEXT, DOC, find)
