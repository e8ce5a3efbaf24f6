"""After the analysis: suppressions and baselines decide what is reported.

Nothing is dropped silently: suppressed findings are counted and kept in
SARIF with a ``suppressions`` entry; findings in the baseline are counted.
A finding's identity (for baselines) does not depend on line numbers: it is
the rule, the entry function, the function holding the sink and the sink
line's text with whitespace and comments normalised away, so unrelated edits
that move lines keep it.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from .reach import Finding
from .sources import SourceLines

INLINE = re.compile(rb"fencecheck:\s*ignore\s+([\w,\s]+?)\s*--\s*(.*?)\s*(?:\*/|$)")
_COMMENTS = re.compile(rb"/\*.*?\*/|//.*$")
BASELINE_VERSION = 1


@dataclass(frozen=True)
class Suppressed:
    finding: Finding
    kind: str          # "inSource" (comment) or "external" (config), as SARIF names them
    reason: str


def fingerprint(f: Finding, lines: SourceLines) -> str:
    loc = f.location
    text = b" ".join(_COMMENTS.sub(b"", lines.line(loc.file, loc.line)).split())
    key = "\0".join((f.rule, f.entry, loc.function, text.decode("utf-8", "replace"), f.lock))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _inline_reason(f: Finding, lines: SourceLines, marked: set[str]) -> str | None:
    """A `/* fencecheck: ignore <rule> -- reason */` on the sink line or a call
    line of the path; ``marked``: the files that mention fencecheck at all."""
    for step in (f.location,) + f.steps[1:]:
        if step.file not in marked:
            continue
        line = lines.line(step.file, step.line)
        m = INLINE.search(line) if b"fencecheck" in line else None
        if m and f.rule in re.split(r"[\s,]+", m.group(1).decode()):
            return m.group(2).decode("utf-8", "replace") or "no reason given"
    return None


def suppress(findings: list[Finding], rules, lines: SourceLines) -> tuple[list[Finding], list[Suppressed]]:
    """Split findings into reported and suppressed (inline comments, then config rules)."""
    kept, gone = [], []
    # A whole tree's paths are 600,000 steps in 2,600 files, few of which
    # mention fencecheck: only their lines are worth looking at.
    marked = {file for file in {st.file for f in findings for st in f.steps} if lines.mentions(file, b"fencecheck")}
    for f in findings:
        reason = _inline_reason(f, lines, marked)
        if reason is not None:
            gone.append(Suppressed(f, "inSource", reason))
            continue
        rule = next((r for r in rules if r.rule == f.rule and r.function in (f.entry, f.location.function)
                     and (not r.path or f.location.file.startswith(r.path))), None)
        if rule is not None:
            gone.append(Suppressed(f, "external", rule.reason))
            continue
        kept.append(f)
    return kept, gone


def baseline_text(findings: list[Finding], lines: SourceLines) -> str:
    doc = {"version": BASELINE_VERSION, "findings": sorted(
        ({"fingerprint": fingerprint(f, lines), "rule": f.rule, "entry": f.entry,
          "file": f.location.file, "function": f.location.function} for f in findings),
        key=lambda d: (d["file"], d["fingerprint"]))}
    return json.dumps(doc, indent=1) + "\n"


def load_baseline(path: str) -> set[str]:
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    if not isinstance(doc, dict) or doc.get("version") != BASELINE_VERSION:
        raise ValueError(f"{path}: not a fencecheck baseline (version {BASELINE_VERSION})")
    return {d["fingerprint"] for d in doc.get("findings", [])}


def apply(result, config, root: str, baseline: str | None = None) -> None:
    """Suppress, then subtract the baseline, in place on a ScanResult."""
    lines = SourceLines(root)
    result.findings, result.suppressed = suppress(result.findings, config.suppress, lines)
    if baseline:
        known = load_baseline(baseline)
        new = [f for f in result.findings if fingerprint(f, lines) not in known]
        result.baselined = len(result.findings) - len(new)
        result.findings = new
        result.baseline_used = True
