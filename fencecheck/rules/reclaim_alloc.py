"""reclaim_alloc: an allocation that may enter direct reclaim where a fence must signal."""
from __future__ import annotations

import re

from .base import Hit, NamedTable, ParamFlow, RuleDoc, SinkRule

ID = "reclaim_alloc"
TAGS = ("correctness", "deadlock", "dma-fence", "memory-reclaim")
PRECISION = "high"   # SARIF properties.precision

# Allocator -> index of its gfp argument (negative counts from the end), or
# None for allocators that may always sleep in reclaim whatever they are given.
ALLOCATORS = {
    "kmalloc": -1, "kzalloc": -1, "kcalloc": -1, "kmalloc_array": -1, "krealloc": -1,
    "krealloc_array": -1, "kmalloc_node": 1, "kzalloc_node": 1, "kcalloc_node": 2,
    "kmem_cache_alloc": -1, "kmem_cache_zalloc": -1, "kmem_cache_alloc_node": 1,
    "kvmalloc": -1, "kvzalloc": -1, "kvcalloc": -1, "kvmalloc_array": -1, "kvrealloc": -1,
    "kvmalloc_node": 1, "kvzalloc_node": 1,
    "alloc_pages": 0, "alloc_page": 0, "alloc_pages_node": 1, "__get_free_pages": 0,
    "__get_free_page": 0, "get_zeroed_page": 0, "folio_alloc": 0, "alloc_pages_exact": 1,
    "__vmalloc": -1, "__vmalloc_node": 2, "kstrdup": -1, "kstrndup": -1, "kstrdup_const": -1,
    "kmemdup": -1, "kmemdup_nul": -1, "kasprintf": 0, "kvasprintf": 0, "devm_kasprintf": 1,
    "mempool_alloc": -1, "idr_alloc": -1, "idr_alloc_cyclic": -1, "idr_alloc_u32": -1,
    "idr_preload": 0, "ida_alloc": -1, "ida_alloc_range": -1, "ida_alloc_min": -1,
    "ida_alloc_max": -1, "ida_simple_get": -1,
    "xa_alloc": -1, "xa_alloc_cyclic": -1, "xa_alloc_irq": None, "xa_store": -1, "xa_insert": -1,
    "xa_cmpxchg": -1, "xa_reserve": -1, "xa_store_range": -1, "xa_alloc_bh": -1,
    "__xa_alloc": -1, "__xa_store": -1, "__xa_insert": -1, "__xa_cmpxchg": -1,
    "radix_tree_preload": 0, "dma_alloc_coherent": -1, "dma_alloc_wc": -1, "dma_alloc_attrs": 3,
    "dma_alloc_noncoherent": 4, "dmam_alloc_coherent": -1, "dma_pool_alloc": 1, "dma_pool_zalloc": 1,
    "sg_alloc_table": -1, "sg_alloc_table_from_pages": -1, "sg_alloc_table_from_pages_segment": -1,
    "__sg_alloc_table_from_pages": -1, "sg_alloc_append_table_from_pages": -1,
    "dev_coredumpv": -1, "dev_coredumpm": 4, "devm_kmalloc": -1, "devm_kzalloc": -1,
    "devm_kcalloc": -1, "devm_kmalloc_array": -1, "devm_kstrdup": -1, "devm_kmemdup": -1,
    "alloc_skb": 1, "dma_fence_array_create": None, "dma_fence_chain_alloc": None,
    "kthread_create*": None, "kthread_run*": None, "alloc_workqueue": None,
    "alloc_ordered_workqueue": None, "create_singlethread_workqueue": None,
    "vmalloc": None, "vzalloc": None, "vmalloc_user": None, "vmalloc_32": None, "vmalloc_node": None,
    "vzalloc_node": None, "vmap": None, "vm_map_ram": None, "ioremap*": None, "devm_ioremap*": None,
    "memremap": None, "devm_memremap": None, "request_firmware*": None, "firmware_request_*": None,
    "shmem_read_mapping_page": None, "shmem_read_mapping_page_gfp": None, "shmem_read_folio": None,
    "shmem_file_setup": None, "drm_gem_get_pages": None, "drm_gem_shmem_get_pages": None,
    "drm_gem_shmem_get_pages_sgt": None, "drm_gem_shmem_vmap": None, "kstrdup_quotable_cmdline": 1,
    "drm_gem_object_init": None, "drm_gem_shmem_create": None,
}

# Masks that include __GFP_DIRECT_RECLAIM: the allocation may sleep in reclaim.
RECLAIMING_MASKS = frozenset({
    "GFP_KERNEL", "GFP_KERNEL_ACCOUNT", "GFP_USER", "GFP_HIGHUSER", "GFP_HIGHUSER_MOVABLE",
    "GFP_NOFS", "GFP_NOIO", "__GFP_DIRECT_RECLAIM", "__GFP_RECLAIM", "GFP_TRANSHUGE",
    "GFP_TRANSHUGE_LIGHT",
})
# Clearing either of these from a mask makes it non-reclaiming.
RECLAIM_BITS = ("__GFP_DIRECT_RECLAIM", "__GFP_RECLAIM")
# Scopes in which nothing reclaims: allocations there are fine.
NORECLAIM_SCOPES = ((frozenset({"memalloc_noreclaim_save"}), frozenset({"memalloc_noreclaim_restore"})),)

_IDENT = re.compile(r"[A-Za-z_]\w*")
_CLEARED = re.compile(r"~\s*\(?\s*(?:" + "|".join(RECLAIM_BITS) + r")\b")

DOC = RuleDoc(
    title="Allocation that may enter direct reclaim on a path the contract forbids it on",
    finds=("A call path from a fence signalling path or an mmu notifier callback to an allocation "
           "whose gfp mask allows direct reclaim (GFP_KERNEL, GFP_NOFS and GFP_NOIO included), to "
           "an allocator that always may (vmalloc, vmap, ioremap, request_firmware, "
           "alloc_workqueue...), or to a driver helper that allocates such as a buffer-object "
           "constructor. A mask passed down through parameters is followed, and the finding is "
           "reported where the mask is chosen."),
    why=("Direct reclaim runs shrinkers and mmu notifiers, and both may wait for fences. If the "
         "code a fence needs in order to signal allocates with reclaim, reclaim can wait for that "
         "very fence: under memory pressure the machine deadlocks. GFP_NOFS/GFP_NOIO still reclaim "
         "(fs_reclaim_acquire touches the mmu notifier map for every reclaiming allocation). "
         "Inside a shrinker the allocation is allowed: PF_MEMALLOC prevents recursion."),
    example=("static struct dma_fence *foo_run_job(struct drm_sched_job *job)\n"
             "{\n"
             "\tstruct foo_fence *f = kzalloc(sizeof(*f), GFP_KERNEL);  /* may wait on reclaim */\n"
             "\t...\n"
             "}"),
    fix=("Preallocate at submit time, before the job is armed (the fence, command buffers, "
         "idr_preload()), or use GFP_NOWAIT / GFP_ATOMIC and handle failure; a mask with "
         "__GFP_DIRECT_RECLAIM cleared, or a memalloc_noreclaim_save() scope, is also safe."),
)


def evaluate_mask(expr: str, func, depth: int = 0):
    """Hit if ``expr`` may reclaim, ParamFlow(i) if that depends on parameter i, else None."""
    if _CLEARED.search(expr):
        return None
    words = _IDENT.findall(expr)
    for w in words:
        if w in RECLAIMING_MASKS:
            return Hit(w)
    if func is None or depth > 2:
        return None
    for i, (pname, _) in enumerate(func.params):
        if pname and pname in words:
            return ParamFlow(i)
    for w in words:
        local = func.locals.get(w)
        if local and local[1]:
            return evaluate_mask(local[1], func, depth + 1)
    return None


def make_rule(extra_allocators: dict | None = None) -> SinkRule:
    table = NamedTable.of({**ALLOCATORS, **(extra_allocators or {})})

    def match(callee: str, args: tuple[str, ...], func):
        gfp = table.get(callee)
        if gfp is None:
            return Hit(f"{callee}(), which may always enter direct reclaim")
        i = gfp if gfp >= 0 else len(args) + gfp
        if not 0 <= i < len(args):
            return None
        verdict = evaluate_mask(args[i], func)
        if isinstance(verdict, Hit):
            return Hit(f"{callee}(..., {args[i].strip()}), which may enter direct reclaim")
        return verdict

    def argument(expr: str, func):
        verdict = evaluate_mask(expr, func)
        return Hit(f"{expr.strip()} passed down to an allocation, which may enter direct reclaim") \
            if isinstance(verdict, Hit) else verdict

    return SinkRule(
        id=ID, doc=DOC,
        forbidden_in={"signalling": (), "mmu_notifier": ()},
        api=table, match=match, argument=argument, exempt_scopes=NORECLAIM_SCOPES,
        fix_hint="preallocate before the job is armed, or use GFP_NOWAIT and handle failure",
    )
