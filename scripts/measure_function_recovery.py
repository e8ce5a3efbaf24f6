#!/usr/bin/env python3
"""Measure how many function definitions fencecheck's extractor recovers.

The reference count comes from Universal Ctags, a C parser that shares no code
and no heuristics with ours (``apt-get install -y universal-ctags``).  Both
sides see exactly the files the scanner sees:

* files are enumerated with ``fencecheck.analyzer.discover.discover`` and read
  and extracted with ``fencecheck.analyzer.pipeline.read_and_extract``, so the
  scanner's prefilters apply unchanged (files without a ``{`` are skipped as
  ``no-code``, oversized and binary files are skipped too);
* ctags runs over *all* discovered ``.c``/``.h`` files, including the skipped
  ones, forced to the C parser (``.h`` is C++ by default in ctags)::

      ctags --languages=C --langmap=C:.c.h --kinds-C=f --fields=+ne \\
            --extras=+F --output-format=json -f - -L <file list>

  The definitions ctags finds in skipped files are reported per skip reason:
  for ``no-code`` this must be 0, which proves the prefilter loses nothing.

Matching: a ctags definition and one of ours match when they are in the same
file, have the same name, and their lines differ by at most ``--slack`` lines
(default 2: ctags reports the line of the name, tree-sitter the line where the
definition starts, which may hold the return type or an attribute).  Matching
is one-to-one, closest lines first.

Reported: ctags total, ours total, matched, recovery = matched / ctags total
(over all discovered files), definitions only we report (possible false
definitions, or ones ctags misses), the files with the most missed
definitions, and sample misses with their source line.  Each miss is also
classified:

* ``ctags-macro`` a definition only we report starts inside the ctags span:
                  ctags read a file-scope macro invocation with no ``;``
                  (``DRM_ENUM_NAME_FN(a, b)``) plus the next function as one
                  K&R-style definition named after the macro; a ctags error;
* ``line-off``    we have a function of that name in the file, at another line
                  (recovered, but it starts further up, e.g. an inline
                  ``struct x { ... } fn(...)`` return type);
* ``swallowed``   the miss lies inside the span of a function we did recover
                  (its body was merged into a neighbour's);
* ``absent``      anything else (usually lost in a parse ERROR region).

Definitions only we report are classified too: ``if0`` (inside ``#if 0``,
which ctags skips by default; dead code we parse as live), ``ctags-macro``
(the other half of the pair above), ``line-off`` (the other half of a
line-off miss) and ``other``.  The "adjusted recovery"
counts ``line-off`` as recovered and drops ``ctags-macro`` from the reference.

Usage::

    python scripts/measure_function_recovery.py --root /path/to/linux [drivers/gpu/drm]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fencecheck.analyzer.discover import Skipped, discover  # noqa: E402
from fencecheck.analyzer.pipeline import read_and_extract  # noqa: E402

CTAGS_ARGS = ["--languages=C", "--langmap=C:.c.h", "--kinds-C=f", "--fields=+ne",
              "--extras=+F", "--output-format=json", "--sort=no", "-f", "-", "-L", "-"]


# -- our side -----------------------------------------------------------------
def _ours(item: tuple[str, str]):
    rel, path = item
    r = read_and_extract(rel, path)
    if isinstance(r, Skipped):
        return rel, r.reason, []
    return rel, None, [(f.name, f.line, f.end_line) for f in r.functions]


def run_ours(files, jobs: int):
    work = [(f.rel, f.abs) for f in files]
    skipped: dict[str, str] = {}
    defs: dict[str, list[tuple[str, int, int]]] = {}
    if jobs <= 1:
        results = map(_ours, work)
    else:
        pool = ProcessPoolExecutor(max_workers=jobs)
        results = pool.map(_ours, work, chunksize=16)
    for rel, reason, funcs in results:
        if reason is not None:
            skipped[rel] = reason
        else:
            defs[rel] = funcs
    if jobs > 1:
        pool.shutdown()
    return defs, skipped


# -- ctags side ---------------------------------------------------------------
def run_ctags(ctags: str, files) -> dict[str, list[tuple[str, int, int]]]:
    by_abs = {f.abs: f.rel for f in files}
    proc = subprocess.run([ctags] + CTAGS_ARGS, input="\n".join(by_abs).encode() + b"\n",
                          capture_output=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"ctags failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:2000]}")
    out: dict[str, list[tuple[str, int, int]]] = defaultdict(list)
    for raw in proc.stdout.splitlines():
        if not raw.strip():
            continue
        tag = json.loads(raw)
        if tag.get("_type") != "tag" or tag.get("kind") not in ("function", "f"):
            continue
        rel = by_abs.get(tag["path"])
        if rel is None:
            continue
        line = int(tag.get("line", 0))
        out[rel].append((tag["name"], line, int(tag.get("end", line))))
    return out


# -- matching -----------------------------------------------------------------
def match_file(ref: list, ours: list, slack: int):
    """One-to-one (name, line +- slack) matching; returns (matched, missed, extra)."""
    pairs = []
    for i, (rn, rl, _) in enumerate(ref):
        for j, (on, ol, _) in enumerate(ours):
            if rn == on and abs(rl - ol) <= slack:
                pairs.append((abs(rl - ol), i, j))
    pairs.sort()
    used_r: set[int] = set()
    used_o: set[int] = set()
    for _, i, j in pairs:
        if i not in used_r and j not in used_o:
            used_r.add(i)
            used_o.add(j)
    missed = [ref[i] for i in range(len(ref)) if i not in used_r]
    extra = [ours[j] for j in range(len(ours)) if j not in used_o]
    return len(used_r), missed, extra


_DIRECTIVE_RE = re.compile(rb"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b(.*)$", re.M)
_IF0_RE = re.compile(rb"^\s*(0|false)\s*(/[*/].*)?$")


def if0_lines(path: str) -> list[tuple[int, int]]:
    """Line ranges (first, last) of code inside ``#if 0`` branches."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return []
    ranges = []
    stack: list[tuple[bool, int]] = []    # (this group's first branch is #if 0, start line)
    for m in _DIRECTIVE_RE.finditer(data):
        line = data.count(b"\n", 0, m.start()) + 1
        kind = m.group(1)
        if kind in (b"if", b"ifdef", b"ifndef"):
            stack.append((kind == b"if" and bool(_IF0_RE.match(m.group(2))), line))
        elif not stack:
            continue
        elif kind in (b"elif", b"else", b"endif"):
            dead, start = stack.pop()
            if dead:
                ranges.append((start, line))
            if kind != b"endif":
                stack.append((False, line))
    return ranges


def classify(miss, ours: list, extra: list) -> str:
    name, line, end = miss
    if any(line <= e[1] <= end for e in extra) and not any(o[0] == name for o in ours):
        return "ctags-macro"
    if any(o[0] == name for o in ours):
        return "line-off"
    if any(o[1] <= line <= o[2] for o in ours):
        return "swallowed"
    return "absent"


def source_line(path: str, line: int) -> str:
    try:
        with open(path, "rb") as fh:
            for n, text in enumerate(fh, 1):
                if n == line:
                    return text.decode("utf-8", "replace").rstrip()[:110]
    except OSError:
        pass
    return ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True, help="kernel source tree")
    ap.add_argument("scope", nargs="?", default="drivers/gpu/drm", help="path inside the tree")
    ap.add_argument("--ctags", default=shutil.which("ctags") or "ctags", help="Universal Ctags binary")
    ap.add_argument("--slack", type=int, default=2, help="allowed line difference (default 2)")
    ap.add_argument("--top", type=int, default=20, help="files with most misses to list")
    ap.add_argument("--samples", type=int, default=25, help="sample misses/extras to show")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--dump", help="write every miss and extra as JSON to this file")
    args = ap.parse_args(argv)

    started = time.monotonic()
    found = discover([args.scope], args.root)
    files = found.files
    abs_of = {f.rel: f.abs for f in files}
    ref = run_ctags(args.ctags, files)
    t_ctags = time.monotonic() - started
    ours, skipped = run_ours(files, args.jobs)
    t_ours = time.monotonic() - started - t_ctags

    ref_total = sum(len(v) for v in ref.values())
    ours_total = sum(len(v) for v in ours.values())
    skip_files = Counter(skipped.values())
    skip_ref = Counter()
    for rel, reason in skipped.items():
        skip_ref[reason] += len(ref.get(rel, ()))

    matched = 0
    misses: dict[str, list] = {}
    extras: dict[str, list] = {}
    kinds = Counter()
    extra_kinds = Counter()
    for f in files:
        rel = f.rel
        r = ref.get(rel, [])
        o = ours.get(rel, [])
        m, missed, extra = match_file(r, o, args.slack)
        matched += m
        if missed:
            misses[rel] = [(n, l, e, classify((n, l, e), o, extra)) for n, l, e in missed]
            kinds.update(k for *_, k in misses[rel])
        if extra:
            dead = if0_lines(f.abs)
            spans = [(l, e) for _, l, e, k in misses.get(rel, ()) if k == "ctags-macro"]
            off = {n for n, _, _, k in misses.get(rel, ()) if k == "line-off"}
            extras[rel] = [(n, l, e, "line-off" if n in off
                            else "if0" if any(a <= l <= b for a, b in dead)
                            else "ctags-macro" if any(a <= l <= b for a, b in spans) else "other")
                           for n, l, e in extra]
            extra_kinds.update(k for *_, k in extras[rel])
    n_missed = sum(len(v) for v in misses.values())
    n_extra = sum(len(v) for v in extras.values())
    pct = 100.0 * matched / ref_total if ref_total else 100.0
    adj_ref = ref_total - kinds["ctags-macro"]
    adj_pct = 100.0 * (matched + kinds["line-off"]) / adj_ref if adj_ref else 100.0

    print(f"scope            {args.scope}  (root {args.root})")
    print(f"files discovered {len(files)}  (discovery skipped {len(found.skipped)})")
    print(f"files parsed     {len(ours)}")
    for reason, n in sorted(skip_files.items()):
        print(f"skipped {reason:<9} {n} files; ctags definitions in them: {skip_ref[reason]}")
    print(f"ctags total      {ref_total}")
    print(f"ours total       {ours_total}")
    print(f"matched          {matched}  (line slack +-{args.slack})")
    print(f"recovery         {pct:.3f}%  (matched / ctags total)")
    print(f"missed           {n_missed} in {len(misses)} files: "
          + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    print(f"adjusted         {adj_pct:.3f}%  ((matched + line-off) / (ctags total - ctags-macro)"
          f" = {matched + kinds['line-off']} / {adj_ref})")
    print(f"ours-only        {n_extra} in {len(extras)} files (possible false definitions): "
          + ", ".join(f"{k} {v}" for k, v in extra_kinds.most_common()))
    print(f"time             ctags {t_ctags:.1f}s, extractor {t_ours:.1f}s")

    print(f"\nTop {args.top} files by missed definitions (missed / ctags defs):")
    worst = sorted(misses.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:args.top]
    for rel, ms in worst:
        print(f"  {len(ms):5d} / {len(ref.get(rel, [])):5d}  {rel}")

    def samples(items: dict, n: int):
        # round-robin over files so one bad file does not fill the list
        queues = [(rel, list(v)) for rel, v in sorted(items.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
        out = []
        while len(out) < n and any(q for _, q in queues):
            for rel, q in queues:
                if q and len(out) < n:
                    out.append((rel, q.pop(0)))
        return out

    print("\nSample misses (ctags line, class, source):")
    for rel, (name, line, _end, kind) in samples(misses, args.samples):
        print(f"  {rel}:{line} {name} [{kind}]\n      | {source_line(abs_of[rel], line)}")
    print("\nSample ours-only definitions (those not in #if 0 first):")
    not_if0 = {rel: [x for x in v if x[3] != "if0"] for rel, v in extras.items()}
    shown = samples({k: v for k, v in not_if0.items() if v}, min(args.samples, 15))
    shown += samples(extras, max(0, 3))    # a few #if 0 ones too
    for rel, (name, line, _end, kind) in shown:
        print(f"  {rel}:{line} {name} [{kind}]\n      | {source_line(abs_of[rel], line)}")

    if args.dump:
        with open(args.dump, "w") as fh:
            json.dump({"misses": misses, "extras": extras}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
