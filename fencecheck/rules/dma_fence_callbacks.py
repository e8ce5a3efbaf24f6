"""Context: dma_fence ops called with the fence lock held, and fence callbacks."""
from __future__ import annotations

from .base import ContextRule, Entry, RuleDoc, entries_from_ops

ID = "ctx_dma_fence_callbacks"
CONTEXT = "signalling"
OPS = {"dma_fence_ops": ("enable_signaling", "signaled")}
# API -> index of the callback function argument
CALLBACK_APIS = {"dma_fence_add_callback": 2}

DOC = RuleDoc(
    title="dma_fence ops and fence callbacks run inside fence signalling",
    finds="Functions bound to struct dma_fence_ops .enable_signaling / .signaled, and functions "
          "passed as the callback of dma_fence_add_callback().",
    why=".enable_signaling and .signaled are called with the fence spinlock held; callbacks run "
        "from dma_fence_signal() itself, often in interrupt context. Nothing there may sleep, "
        "and nothing may wait for another fence.",
    example="static void foo_fence_cb(struct dma_fence *f, struct dma_fence_cb *cb)\n{\n"
            "\tkfree(kmalloc(64, GFP_KERNEL));   /* sleeps inside signalling */\n}\n"
            "...\ndma_fence_add_callback(fence, &job->cb, foo_fence_cb);",
    fix="Defer the work to a work item (queue_work) and do only lock-free bookkeeping in the "
        "callback.",
)


def find(program, config) -> list:
    entries = entries_from_ops(program, OPS, CONTEXT)
    for api, arg in CALLBACK_APIS.items():
        for fid, idx in program.callers_by_name.get(api, ()):
            call = program.call(fid, idx)
            if arg >= len(call.args):
                continue
            name = call.args[arg].lstrip("&").strip()
            for target in program.resolve(name, program.funcs.file[fid]):
                entries.append(Entry(CONTEXT, target, f"passed to {api}() in {program.funcs.fn[fid].name}",
                                     program.funcs.file[fid], call.line))
    return entries


RULE = ContextRule(ID, CONTEXT, DOC, find)
