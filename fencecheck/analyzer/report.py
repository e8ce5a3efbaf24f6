"""Stage 6: findings -> text or JSON (SARIF 2.1.0: sarif.py)."""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

from .. import __version__
from .pipeline import ScanResult
from .reach import Finding, Step

LEVEL = "warning"

# Skip reasons that are not a loss: files that hold no code at all.
BENIGN_SKIPS = frozenset({"no-code"})


# -- text -------------------------------------------------------------------
def summary_line(result: ScanResult) -> str:
    s = result.stats
    per_rule = Counter(f.rule for f in result.findings)
    rules = ", ".join(f"{k} {v}" for k, v in sorted(per_rule.items())) or "none"
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(s.skipped.items())) or "none"
    triaged = ""
    if result.suppressed:
        triaged += f", {len(result.suppressed)} suppressed"
    if result.baseline_used:
        triaged += f", {result.baselined} in the baseline"
    return (f"fencecheck: {len(result.findings)} finding(s) [{rules}]{triaged}; {s.files_parsed} files parsed, "
            f"{s.functions} functions, {s.entries} context entries; skipped: {skipped}")


# The text and JSON reports come as chunks, written as they are made: a whole
# tree's report is over 100 MB, and built as one string it would be held two
# or three times over, on top of the scan's peak memory.
def text_chunks(result: ScanResult) -> Iterator[str]:
    """The text report, one finding (or note) a chunk."""
    for f in result.findings:
        loc = f.location
        out = [f"{loc.file}:{loc.line}:{loc.col + 1}: {LEVEL}: {f.message} [{f.rule}]"]
        for step in f.steps:
            out.append(f"    {step.file}:{step.line}: {step.text}")
        if f.related:
            out.append(f"    held elsewhere ({f.lock}):")
            for step in f.related:
                out.append(f"    {step.file}:{step.line}: {step.text}")
        if f.fix:
            out.append(f"    fix: {f.fix}")
        yield "\n".join(out) + "\n"
    for s in result.skipped:
        if s.reason not in BENIGN_SKIPS:
            detail = f" ({s.detail})" if s.detail else ""
            yield f"{s.rel}: note: skipped: {s.reason}{detail}\n"
    for note in result.stats.notes:
        yield f"fencecheck: note: {note}\n"
    yield summary_line(result) + "\n"


def to_text(result: ScanResult) -> str:
    return "".join(text_chunks(result))


# -- JSON -------------------------------------------------------------------
def _step_json(s: Step) -> dict:
    return {"file": s.file, "line": s.line, "column": s.col + 1, "function": s.function, "text": s.text}


def json_chunks(result: ScanResult) -> Iterator[str]:
    """One line, as json.dumps would write the document; `jq .` pretty-prints.
    Findings are encoded one at a time, a chunk each, and each distinct step
    once: a whole tree's paths repeat 14,000 steps 600,000 times.  Steps
    are known by identity (a result shares equal steps, and hashing a Step
    is Python code), each kept with its text so that no id is reused."""
    encoded_steps: dict[int, tuple[Step, str]] = {}

    def steps(seq) -> str:
        out = []
        for st in seq:
            known = encoded_steps.get(id(st))
            if known is None:
                known = encoded_steps[id(st)] = (st, json.dumps(_step_json(st)))
            out.append(known[1])
        return "[" + ", ".join(out) + "]"

    def finding(f: Finding) -> str:
        head = json.dumps({"rule": f.rule, "context": f.context, "entry": f.entry, "entry_how": f.entry_how,
                           "sink": f.sink, "message": f.message})
        held = f', "lock": {json.dumps(f.lock)}, "held_path": {steps(f.related)}' if f.related else ""
        return (f'{head[:-1]}, "location": {steps([f.location])[1:-1]}, "path": {steps(f.steps)}, '
                f'"fix": {json.dumps(f.fix)}{held}}}')
    s = result.stats
    summary = {
        "findings": len(result.findings), "suppressed": len(result.suppressed),
        "in_baseline": result.baselined,
        "per_rule": dict(sorted(Counter(f.rule for f in result.findings).items())),
        "files_discovered": s.files_discovered, "files_parsed": s.files_parsed,
        "functions": s.functions, "calls": s.calls, "context_entries": s.entries,
        "parse_error_lines": s.error_lines, "lines": s.lines,
        "skipped": dict(sorted(s.skipped.items())),
    }
    skipped = [{"file": k.rel, "reason": k.reason, "detail": k.detail} for k in result.skipped]
    yield f'{{"version": {json.dumps(__version__)}, "findings": ['
    for i, f in enumerate(result.findings):
        yield finding(f) if i == 0 else ", " + finding(f)
    yield f'], "summary": {json.dumps(summary)}, "skipped": {json.dumps(skipped)}}}\n'


def to_json(result: ScanResult) -> str:
    return "".join(json_chunks(result))
