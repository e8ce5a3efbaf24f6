#!/usr/bin/env python3
"""Check fencecheck against real kernels: ../shared/dev-cases.yaml and
docs/extra-cases.yaml on Debian's linux-source-6.1 (every case must be found)
and 6.12 (every clean site must stay silent).

    python scripts/check_dev_cases.py [--kernels ~/kernels] [--cases FILE...]

Missing trees are fetched once with apt-get download (about 150 MB each) and
unpacked under --kernels; nothing is written into the repository.  Not run by
CI.  Prints one line per case, finding counts per rule, wall time and peak
memory per tree; exits 1 if a case is missed or a clean site is reported.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import Counter

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from debian_kernel import ensure_tree  # noqa: E402
from fencecheck.analyzer.config import Config  # noqa: E402
from fencecheck.analyzer.pipeline import scan  # noqa: E402

DEFAULT_SCOPE = ("drivers/gpu", "drivers/dma-buf", "include")


def run(tree: str, scope, jobs: int):
    started = time.monotonic()
    result = scan([p for p in scope if os.path.exists(os.path.join(tree, p))], tree, Config(), jobs=jobs)
    return result, time.monotonic() - started


def matches(finding, case) -> bool:
    """The finding starts at the case's entry and reaches its sink line; for a lock
    inversion, it names both the signalling-side acquisition and the sink under the lock."""
    if finding.steps[0].function != case["entry"]:
        return False
    steps = finding.steps + finding.related
    if not any(s.file == case["file"] and s.line == case["sink_line"] for s in steps):
        return False
    lock_site = case.get("lock_in_signalling_path")
    return lock_site is None or any(s.file == lock_site["file"] and s.line == lock_site["line"]
                                    for s in finding.steps)


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", default=os.path.expanduser("~/kernels"))
    ap.add_argument("--cases", nargs="+", default=[os.path.join(here, "..", "..", "shared", "dev-cases.yaml"),
                                                   os.path.join(here, "..", "docs", "extra-cases.yaml")])
    ap.add_argument("--scope", nargs="+", default=list(DEFAULT_SCOPE))
    ap.add_argument("-j", "--jobs", type=int, default=0)
    args = ap.parse_args()
    data = {"cases": [], "clean": []}
    for path in args.cases:
        with open(path) as fh:
            loaded = yaml.safe_load(fh)
        data["cases"] += loaded.get("cases", [])
        data["clean"] += loaded.get("clean", [])
    failures = 0
    results = {}
    for version in ("6.1", "6.12"):
        tree = ensure_tree(args.kernels, version)
        result, seconds = run(tree, args.scope, args.jobs)
        results[version] = result
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        per_rule = Counter(f.rule for f in result.findings)
        print(f"linux {version} [{' '.join(args.scope)}]: {result.stats.files_parsed} files, "
              f"{len(result.findings)} findings {dict(sorted(per_rule.items()))}, {seconds:.1f}s, "
              f"peak RSS main {peak:.0f} MB / largest worker {children:.0f} MB, "
              f"skipped {dict(result.stats.skipped)}")
    for case in data["cases"]:
        found = [f for f in results[case["tree"]].findings if matches(f, case)]
        status = "found" if found else "MISSED"
        if not found:
            failures += 1
        print(f"  {case['id']:14} {case['kind']:15} {case['tree']:5} {case['file']}:{case['sink_line']} "
              f"from {case['entry']}: {status}" + (f" [{found[0].rule}]" if found else ""))
        fixed = case.get("fixed_in_6_12", {}).get("fixed")
        if fixed:
            again = [f for f in results["6.12"].findings
                     if f.steps[0].function == case["entry"] and f.rule == (found[0].rule if found else "")
                     and any(s.file == case["file"] for s in f.steps)]
            if again:
                print(f"      note: {len(again)} finding(s) from {case['entry']} still touch {case['file']} on 6.12")
    for clean in data.get("clean", []):
        hits = [f for f in results["6.12"].findings
                if any(s.file == clean["file"] and s.line == clean["line"] for s in f.steps + f.related)]
        if hits:
            failures += 1
        print(f"  {clean['id']:14} clean           6.12  {clean['file']}:{clean['line']}: "
              + ("silent" if not hits else f"REPORTED by {len(hits)} finding(s), e.g. {hits[0].entry} "
                 f"[{hits[0].rule}] via {' -> '.join(s.function for s in hits[0].steps)}"))
    print("all dev cases pass" if not failures else f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
