"""The bundled fixtures: expected findings are marked inline in the C sources.

A marker sits on the line of a finding's primary location:

    kzalloc(sz, GFP_KERNEL); /* expect: reclaim_alloc */
    foo_gem_lock(bo);        /* expect: resv_lock, user_fault */
    kmalloc(n, GFP_KERNEL);  /* expect: reclaim_alloc x2 */   (two entries reach it)

The scan of fixtures/ must produce exactly the multiset of (file, line, rule)
the markers describe: nothing missing, nothing extra.
"""
from __future__ import annotations

import os
import re
from collections import Counter

import pytest

from fencecheck.analyzer.config import Config
from fencecheck.analyzer.pipeline import scan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = "fixtures"
SOURCE_SUFFIXES = (".c", ".h")

_GPU = "fixtures/drivers/gpu/drm/"
_MISC = "fixtures/drivers/misc/"

# Every fixture file, with what it is there for.  A file on disk that is not
# listed here (or a listed file that is gone) fails test_every_fixture_is_referenced.
MANIFEST = {
    _GPU + "fakesched/fake_drv.h": "types, vtable struct, static inline fake_gem_lock() wrapper",
    _GPU + "fakesched/fake_sched.c": "sched ops table (.run_job defined in fake_job.c), prepare/timedout/free_job",
    _GPU + "fakesched/fake_job.c": "run_job: header wrapper, pm_runtime hop, flush_work, gfp via 2 levels, same-name static",
    _GPU + "fakesched/fake_debugfs.c": "same-name static helper that allocates, not linked to run_job",
    _GPU + "fakesched/fake_gem.c": "kref_put() release taking a resv lock",
    _GPU + "fakesched/fake_gpu.c": "gpu->funcs->hw_init vtable, INIT_WORK flushed vs queued, SET_RUNTIME_PM_OPS",
    _GPU + "fakesched/fake_mmu.c": "mutual recursion on the run_job path",
    _GPU + "fakesched/fake_cpu_job.c": "array of function pointers indexed by job type",
    _GPU + "fakeold/fakeold_drv.h": "shared types of the old-style driver",
    _GPU + "fakeold/fakeold_sched.c": ".dependency (6.1 drm_sched)",
    _GPU + "fakeold/fakeold_gem.c": "shrinker bound by designated initializer + register_shrinker",
    _GPU + "fakeold/fakeold_mn.c": "mmu_notifier_ops .invalidate_range_start",
    _GPU + "fakemm/fakemm_drv.h": "shared types of the shrinker_alloc/interval-notifier driver",
    _GPU + "fakemm/fakemm_shrinker.c": "shrinker bound by assignment after shrinker_alloc; allowed cells",
    _GPU + "fakemm/fakemm_userptr.c": "mmu_interval_notifier_ops .invalidate; allowed fence waits",
    _GPU + "fakekms/fakekms_kms.c": "drm_mode_config_helper_funcs .atomic_commit_tail",
    _GPU + "fakefence/fakefence_fence.c": "dma_fence_ops .enable_signaling/.signaled, dma_fence_add_callback",
    _GPU + "fakefence/fakefence_ring.c": "INIT_WORK signaller (positive), irq signaller, opportunistic ioctl",
    _GPU + "fakesubmit/fakesubmit_submit.c": "publish window, arm-before-publish, idr_preload + GFP_NOWAIT",
    _GPU + "fakesubmit/fakesubmit_reset.c": "explicit dma_fence_begin/end_signalling section",
    _GPU + "fakegfp/fakegfp_sched.c": "exemptions: trylocks, gfp masks, noreclaim vs nofs scopes, non-waiting checks",
    _GPU + "fakevirt/fakevirt_vq.c": "callback passed on twice, stored in a struct field, called from a "
                                      "signalling worker registered through a work-function parameter",
    _GPU + "fakedump/fakedump_sched.c": "helper with two sinks (each reported), helper with 17 (reported once), "
                                        "run-once release work checked only before its signal",
    _GPU + "fakeidiom/fakeidiom_job.c": "kernel idioms: annotations, iterators, guards, split #ifdef",
    # held_lock (lock-order inversion) fixtures, maintained with that rule
    _GPU + "lockinv/lockinv.h": "held_lock: lock classes (same field name in two structs)",
    _GPU + "lockinv/lockinv_sched.c": "held_lock: locks taken on the signalling path",
    _GPU + "lockinv/lockinv_ioctl.c": "held_lock: the other paths, holding those locks across sinks (or not)",
    _MISC + "fakeaccel/fakeaccel_mem.c": "fence waits in shrinker / mmu notifier outside drivers/gpu",
    # one kernel build: an architecture's definitions and a host program's shim
    _GPU + "fakearch/fakearch_job.c": "run_job calling per-architecture helpers and a slab helper a tools/ shim "
                                      "defines again",
    "fixtures/arch/x86/mm/fakearch_cache.c": "x86's helper: no allocation",
    "fixtures/arch/arm64/mm/fakearch_cache.c": "arm64's helper (allocates) and an arm64-only one",
    "fixtures/arch/x86/include/asm/fakearch_cache.h": "x86's static inline barrier",
    "fixtures/arch/arm64/include/asm/fakearch_cache.h": "arm64's static inline barrier (allocates)",
    "fixtures/mm/fakearch_slab.c": "the kernel's slab helper: no allocation, but a sanitizer hook",
    "fixtures/mm/kasan/fakearch_kasan.c": "the sanitizer's hook (allocates; never entered)",
    "fixtures/tools/testing/shared/fakearch_slab.c": "the userspace shim's slab helper (allocates)",
    "fixtures/kernel/fakearch_panic.c": "panic() dumping the log with an allocation (never followed)",
    "fixtures/kernel/sched/fakearch_core.c": "schedule() flushing a plug with an allocation (never followed)",
}

_MARKER = re.compile(r"/\*\s*expect:\s*(.*?)\s*\*/")
_ITEM = re.compile(r"^([a-z_]+)(?:\s+x(\d+))?$")


def fixture_files() -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, FIXTURES)):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith(SOURCE_SUFFIXES):
                out.append(os.path.relpath(os.path.join(dirpath, name), ROOT).replace(os.sep, "/"))
    return out


def parse_markers(rel: str, text: str) -> Counter:
    """(file, line, rule) -> count, from the `/* expect: ... */` markers of one file."""
    expected: Counter = Counter()
    for lineno, line in enumerate(text.splitlines(), 1):
        for m in _MARKER.finditer(line):
            for item in m.group(1).split(","):
                im = _ITEM.match(item.strip())
                if not im:
                    raise ValueError(f"{rel}:{lineno}: malformed expect marker item {item.strip()!r}")
                expected[(rel, lineno, im.group(1))] += int(im.group(2) or 1)
    return expected


def expected_findings() -> Counter:
    expected: Counter = Counter()
    for rel in fixture_files():
        with open(os.path.join(ROOT, rel), encoding="utf-8") as fh:
            expected.update(parse_markers(rel, fh.read()))
    return expected


def _run(jobs: int):
    return scan([FIXTURES], root=ROOT, config=Config(), jobs=jobs)


@pytest.fixture(scope="module")
def result():
    return _run(1)


def _key(f) -> tuple[str, int, str]:
    return (f.location.file, f.location.line, f.rule)


def _describe(f) -> str:
    path = " -> ".join(f"{s.function}@{s.line}" for s in f.steps)
    return f"entry {f.entry} [{f.context}; {f.entry_how}]: {path}"


def test_marker_syntax():
    assert parse_markers("f.c", "a(); /* expect: resv_lock, user_fault */\nb(); /* expect: reclaim_alloc x2 */\n") == \
        Counter({("f.c", 1, "resv_lock"): 1, ("f.c", 1, "user_fault"): 1, ("f.c", 2, "reclaim_alloc"): 2})
    with pytest.raises(ValueError):
        parse_markers("f.c", "a(); /* expect: resv lock */\n")


def test_findings_match_markers(result):
    expected = expected_findings()
    got = Counter(_key(f) for f in result.findings)
    if got == expected:
        return
    by_key: dict = {}
    for f in result.findings:
        by_key.setdefault(_key(f), []).append(f)
    lines = []
    missing = expected - got
    extra = got - expected
    if missing:
        lines.append(f"MISSING ({sum(missing.values())}): expected by a marker, not reported")
        for (file, line, rule), n in sorted(missing.items()):
            have = got.get((file, line, rule), 0)
            lines.append(f"  {file}:{line}: {rule}  (expected {expected[(file, line, rule)]}, got {have})")
    if extra:
        lines.append(f"EXTRA ({sum(extra.values())}): reported, no marker")
        for (file, line, rule), n in sorted(extra.items()):
            lines.append(f"  {file}:{line}: {rule}  (expected {expected.get((file, line, rule), 0)}, "
                         f"got {got[(file, line, rule)]})")
            for f in by_key.get((file, line, rule), ()):
                lines.append(f"      {_describe(f)}")
    pytest.fail("findings differ from the fixtures' expect markers\n" + "\n".join(lines), pytrace=False)


def test_every_fixture_is_referenced(result):
    on_disk = set(fixture_files())
    listed = set(MANIFEST)
    assert not on_disk - listed, f"fixture files missing from MANIFEST: {sorted(on_disk - listed)}"
    assert not listed - on_disk, f"MANIFEST names files that do not exist: {sorted(listed - on_disk)}"
    skipped = [(s.rel, s.reason) for s in result.skipped]
    assert not skipped, f"fixture files skipped by the scan: {skipped}"
    parsed = set(result.program.files)
    assert on_disk <= parsed, f"fixture files not parsed: {sorted(on_disk - parsed)}"


def test_parallel_scan_is_identical(result):
    parallel = _run(2)
    assert len(fixture_files()) >= 16, "too few files for the scan to use worker processes"
    assert [(_key(f), f.entry, f.steps) for f in parallel.findings] == \
        [(_key(f), f.entry, f.steps) for f in result.findings]


def test_common_code_calls_the_configured_architecture(result):
    """arch = "arm64": run_job reaches arm64's allocating barrier and flush
    instead of x86's; a host program's shim is never linked in."""
    arm64 = scan([FIXTURES], root=ROOT, config=Config(arch="arm64"), jobs=1)
    job = _GPU + "fakearch/fakearch_job.c"
    with open(os.path.join(ROOT, job), encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    calls = [n for n, text in enumerate(lines, 1) if "fakearch_barrier()" in text or "fakearch_flush_range(job" in text]
    assert len(calls) == 2
    extra = Counter(_key(f) for f in arm64.findings) - Counter(_key(f) for f in result.findings)
    assert sorted(extra) == [(job, n, "reclaim_alloc") for n in calls]
    for found in (result, arm64):
        assert not [s for f in found.findings for s in f.steps + f.related if "/tools/" in s.file]
