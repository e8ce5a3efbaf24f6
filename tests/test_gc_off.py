"""A scan runs with Python's cyclic garbage collector off (pipeline.scan):
millions of long-lived facts would make it rescan them over and over.  A
reference cycle made while it is off is never freed during the scan, so the
analysis must make none: one per function walked (a recursive closure, an
object and what it points back to) kept half a gigabyte on the whole tree."""
from __future__ import annotations

import gc
import os

from fencecheck.analyzer.config import Config
from fencecheck.analyzer.discover import discover
from fencecheck.analyzer.pipeline import Skipped, analyse, extract_all

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures")


def test_the_analysis_of_the_fixtures_leaves_no_reference_cycle():
    facts = [r for r in extract_all(discover(["."], FIXTURES).files, 1) if not isinstance(r, Skipped)]
    analyse(facts, Config())       # imports and caches made once per process are not the point
    facts = [r for r in extract_all(discover(["."], FIXTURES).files, 1) if not isinstance(r, Skipped)]
    gc.collect()
    gc.disable()
    try:
        findings, program, _ = analyse(facts, Config())
        # every rule and context, signalling sections and asynchronous
        # signallers among them: every walk that could leave a cycle ran
        assert {f.rule for f in findings} >= {"resv_lock", "reclaim_alloc", "fence_wait", "user_fault", "held_lock"}
        assert {f.context for f in findings} == {"signalling", "reclaim", "mmu_notifier"}
        assert any(f.entry_how.startswith("signalling section") for f in findings)
        assert any("reaching dma_fence_signal()" in f.entry_how for f in findings)
        assert gc.collect() == 0
    finally:
        gc.enable()
