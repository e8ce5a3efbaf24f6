#!/usr/bin/env python3
"""Benchmark fencecheck on Debian's linux-source-6.12 (not part of the tests).

    python bench/run.py [--kernels ~/kernels] [-j 2] [--reps 3] [--scopes whole drm] [--determinism]

Measures, in one run, each --reps times (median and range), with the peak RSS
of the process tree:
  (a) floor: tree-sitter parse only of every .c/.h of the scope, no prefilter,
      on the same number of processes;
  (b) cold full-tree scan (empty cache);
  (c) cold drivers/gpu/drm scan;
  (d) warm re-scan with nothing changed;
  (e) warm re-scan after one .c file in drivers/gpu/drm/msm changed, twice:
      a comment appended (the file's facts stay the same, so the last result
      holds), and a function appended (the facts change, the findings do not).
Every scan writes JSON; the table says how many distinct outputs the cold and
warm scans of a scope produced (1 = all byte-identical).  --determinism adds,
per scope, a cold scan on one process into its own cache, and compares its
text, JSON and SARIF with those of the timed runs' cache (a report the scan
refuses, such as a whole tree's SARIF over GitHub's size limit, compares by
its message).  Prints a Markdown table and the ratio (b)/(a);
--output writes it to a file (bench/RESULTS.md is the committed latest run).
The package's bytecode is compiled first, as `pip install` compiles it: with
PYTHONDONTWRITEBYTECODE set, every timed command would otherwise compile its
sources anew, a tenth of a second that no installed copy spends.
"""
from __future__ import annotations

import argparse
import compileall
import hashlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
from debian_kernel import ensure_tree  # noqa: E402

TOUCHED = "drivers/gpu/drm/msm/msm_fence.c"
SCOPES = {"whole": ".", "drm": "drivers/gpu/drm"}


class CommandFailed(Exception):
    pass


def timed(cmd: list[str], cwd: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the process tree) of one command."""
    start = time.monotonic()
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, ".."))
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise CommandFailed(f"{' '.join(cmd)} failed with {code}: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def digest(path: str) -> str:
    # Streamed: a whole tree's JSON is 0.9 GB, and a child forked from a big
    # process starts with that process's peak RSS in its own.
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def floor_cmd(scope: str, jobs: int) -> list[str]:
    code = (
        "import os, sys\n"
        "from concurrent.futures import ProcessPoolExecutor\n"
        "import tree_sitter_c\n"
        "from tree_sitter import Language, Parser\n"
        "parser = None\n"
        "def parse(batch):\n"
        "    global parser\n"
        "    parser = parser or Parser(Language(tree_sitter_c.language()))\n"
        "    for p in batch:\n"
        "        with open(p, 'rb') as fh: parser.parse(fh.read())\n"
        "    return len(batch)\n"
        "files = [os.path.join(d, f) for d, _, fs in os.walk(sys.argv[1]) for f in fs if f.endswith(('.c', '.h'))"
        " and os.path.isfile(os.path.join(d, f))]\n"
        "batches = [files[i:i + 64] for i in range(0, len(files), 64)]\n"
        "with ProcessPoolExecutor(int(sys.argv[2])) as pool: print(sum(pool.map(parse, batches)))\n")
    return [sys.executable, "-c", code, scope, str(jobs)]


def scan_cmd(scope: str, jobs: int, cache: str | None, output: str, fmt: str = "json") -> list[str]:
    cmd = [sys.executable, "-m", "fencecheck.cli", "scan", scope, "--root", ".", "-j", str(jobs),
           "--format", fmt, "--output", output]
    return cmd + (["--cache-dir", cache] if cache else ["--no-cache"])


# How (e) changes TOUCHED, each time anew.
EDITS = {
    "a comment appended": lambda n: f"/* fencecheck bench {n} */\n",
    "a function appended": lambda n: f"void fencecheck_bench_{n}(void)\n{{\n\tfencecheck_bench_call_{n}();\n}}\n",
}


def append_once(tree: str, text_of) -> None:
    with open(os.path.join(tree, TOUCHED), "a") as fh:
        fh.write(text_of(time.time_ns()))


def restore(tree: str, original: bytes) -> None:
    with open(os.path.join(tree, TOUCHED), "wb") as fh:
        fh.write(original)


def render(tree: str, scope: str, cache: str, fmt: str, out: str) -> str:
    """Digest of one report rendered from a cache, or why the scan refused it
    (a whole tree's SARIF is over GitHub's upload limit)."""
    try:
        timed(scan_cmd(scope, 1, cache, out, fmt), tree)
    except CommandFailed as e:
        return "refused: " + str(e).rsplit("error: ", 1)[-1].split(":")[0].strip()
    return digest(out)


def one_process_digests(tree: str, scope: str, work: str) -> dict[str, str]:
    """A cold scan on one process into its own cache (JSON), then text and
    SARIF from that cache."""
    cache = os.path.join(work, "one-process-cache")
    out = os.path.join(work, "one-process.out")
    timed(scan_cmd(scope, 1, cache, out), tree)
    digests = {"json": digest(out)}
    for fmt in ("text", "sarif"):
        digests[fmt] = render(tree, scope, cache, fmt, out)
    shutil.rmtree(cache, ignore_errors=True)
    return digests


def markdown(args, rows, results, checks) -> str:
    commit = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False).stdout.strip() or "unknown"
    lines = ["# fencecheck benchmark", "",
             f"fencecheck {commit} on linux-source-6.12, {args.jobs} processes, {args.reps} repetitions; machine: {platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.platform()}; "
             "the package's bytecode compiled before timing, as pip install does", "",
             "| measurement | median s | range s | peak RSS MB (max) |", "|---|---|---|---|"]
    for label, walls, rss, _ in rows:
        lines.append(f"| {label} | {statistics.median(walls):.1f} | {min(walls):.1f}-{max(walls):.1f} | {max(rss):.0f} |")
    for scope_name in args.scopes:
        if ("floor", scope_name) in results and ("cold", scope_name) in results:
            ratio = results[("cold", scope_name)] / results[("floor", scope_name)]
            lines.append(f"\ncold scan / parse floor ({scope_name}): {ratio:.2f}x")
    lines += ["", "Output identity (sha256 prefixes):", "", "| scope | outputs | result | sha256 prefixes |",
              "|---|---|---|---|"] + checks
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", default=os.path.expanduser("~/kernels"))
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scopes", nargs="+", default=["whole", "drm"], choices=list(SCOPES))
    ap.add_argument("--determinism", action="store_true")
    ap.add_argument("--output")
    args = ap.parse_args()
    tree = ensure_tree(args.kernels, "6.12")
    compileall.compile_dir(os.path.join(HERE, "..", "fencecheck"), quiet=1)
    with open(os.path.join(tree, TOUCHED), "rb") as fh:
        original = fh.read()
    work = tempfile.mkdtemp(prefix="fc-bench-")
    rows: list[tuple[str, list[float], list[float], set[str]]] = []   # label, walls, RSS, digests
    checks: list[str] = []

    def measure(label: str, cmd_for, before=None):
        """Run cmd_for(output) --reps times; digests of outputs, if it writes one."""
        walls, rss, digests = [], [], set()
        for rep in range(args.reps):
            out = os.path.join(work, f"out-{len(rows)}-{rep}")
            cmd = cmd_for(out)
            if before:
                before()
            w, r = timed(cmd, tree)
            walls.append(w)
            rss.append(r)
            if os.path.exists(out):
                digests.add(digest(out))
        rows.append((label, walls, rss, digests))
        print(f"{label}: median {statistics.median(walls):.1f}s", file=sys.stderr)
        return statistics.median(walls)

    results = {}
    try:
        for scope_name in args.scopes:
            scope = SCOPES[scope_name]
            first_row = len(rows)
            results[("floor", scope_name)] = measure(f"(a) floor, parse only, {scope_name}",
                                                     lambda out: floor_cmd(scope, args.jobs))
            caches: list[str] = []

            def cold(out: str) -> list[str]:
                caches.append(tempfile.mkdtemp(prefix="cache-", dir=work))
                return scan_cmd(scope, args.jobs, caches[-1], out)
            results[("cold", scope_name)] = measure(f"({'b' if scope_name == 'whole' else 'c'}) cold scan, {scope_name}",
                                                    cold)
            warm = caches.pop()      # the last cold scan's cache is the warm one
            for spent in caches:
                shutil.rmtree(spent, ignore_errors=True)
            measure(f"(d) warm re-scan, nothing changed, {scope_name}",
                    lambda out: scan_cmd(scope, args.jobs, warm, out))
            # (e) changes a file's line count, which the summary reports: not compared.
            outputs = set().union(*(row[3] for row in rows[first_row:]))
            checks.append(f"| {scope_name} | JSON of the cold and warm timed scans | {len(outputs)} distinct | "
                          f"{', '.join(sorted(d[:16] for d in outputs))} |")
            if args.determinism:     # from the warm cache while it matches the tree
                timed_digests = {fmt: render(tree, scope, warm, fmt, os.path.join(work, "render.out"))
                                 for fmt in ("text", "sarif")}
                timed_digests["json"] = sorted(outputs)[0] if len(outputs) == 1 else "several"
            for edit, text_of in EDITS.items():
                measure(f"(e) warm re-scan, one msm .c changed: {edit}, {scope_name}",
                        lambda out: scan_cmd(scope, args.jobs, warm, out),
                        before=lambda: append_once(tree, text_of))
                restore(tree, original)
            shutil.rmtree(warm, ignore_errors=True)
            if args.determinism:
                one = one_process_digests(tree, scope, work)
                for fmt in ("text", "json", "sarif"):
                    same = "identical" if one[fmt] == timed_digests[fmt] else "DIFFERENT"
                    checks.append(f"| {scope_name} | {fmt}: {args.jobs} processes (cache) vs 1 process (own "
                                  f"cache) | {same} | {timed_digests[fmt][:40]}; {one[fmt][:40]} |")
    finally:
        restore(tree, original)
        shutil.rmtree(work, ignore_errors=True)
        text = markdown(args, rows, results, checks)
        print(text)
        if args.output:
            with open(args.output, "w") as fh:
                fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
