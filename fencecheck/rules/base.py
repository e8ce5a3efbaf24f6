"""What a rule module declares.

A *sink rule* names the calls that are forbidden somewhere (a blocking
dma_resv lock, a reclaiming allocation, a fence wait, a user fault) and the
contexts it forbids them in.  A *context rule* finds the functions that run
under the contract (drm_sched callbacks, signalling sections, shrinkers...).
Each carries its documentation, printed by ``fencecheck explain`` and put in
SARIF rule help, from this one source.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Callable

CONTEXTS = {
    "signalling": "fence signalling path",
    "reclaim": "memory reclaim (shrinker) path",
    "mmu_notifier": "mmu notifier invalidation path",
}


@dataclass(frozen=True)
class RuleDoc:
    title: str          # one line: SARIF shortDescription
    finds: str          # what it finds: SARIF fullDescription
    why: str            # why it deadlocks
    example: str        # a small C example
    fix: str            # the usual fix

    def text(self, rule_id: str) -> str:
        return (f"{rule_id}: {self.title}\n\nWhat it finds\n  {self.finds}\n\nWhy it deadlocks\n  {self.why}\n\n"
                f"Example\n{_indent(self.example)}\n\nFix\n  {self.fix}\n")

    def markdown(self, rule_id: str) -> str:
        return (f"## {rule_id}: {self.title}\n\n**What it finds.** {self.finds}\n\n"
                f"**Why it deadlocks.** {self.why}\n\n**Example.**\n\n```c\n{self.example.rstrip()}\n```\n\n"
                f"**Fix.** {self.fix}\n")


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in text.rstrip().splitlines())


@dataclass(frozen=True)
class Hit:
    """This call is the forbidden operation; ``what`` says why, for the message."""
    what: str


@dataclass(frozen=True)
class ParamFlow:
    """Forbidden or not depending on what callers pass for parameter ``index``."""
    index: int


Verdict = Hit | ParamFlow | None


@dataclass(frozen=True)
class SinkRule:
    id: str
    doc: RuleDoc
    # context -> path prefixes where the sink is nevertheless allowed ("" = nowhere)
    forbidden_in: dict[str, tuple[str, ...]]
    # the API names (and patterns) it judges: ``match`` is asked about calls of these alone
    api: NameSet | NamedTable
    # verdict on a call to an API (body not followed even if scanned)
    match: Callable[[str, tuple[str, ...], object], Verdict]
    # verdict on one argument expression passed for a parameter that flows to the sink
    argument: Callable[[str, object], Verdict] | None = None
    # calls made inside these scopes cannot be this sink (e.g. noreclaim)
    exempt_scopes: tuple[tuple[frozenset[str], frozenset[str]], ...] = ()
    fix_hint: str = ""

    def forbidden(self, context: str, path: str) -> bool:
        allowed = self.forbidden_in.get(context)
        if allowed is None:
            return False
        return not any(path.startswith(p) or ("/" + p) in path for p in allowed)


def forbid_every_call(consequence: str) -> Callable[[str, tuple[str, ...], object], Verdict]:
    """A ``SinkRule.match`` for rules that forbid every call of their API."""

    def match(callee: str, args: tuple[str, ...], func) -> Verdict:
        return Hit(f"{callee}(), which {consequence}")
    return match


@dataclass(frozen=True)
class Entry:
    """A function that runs in a context; ``calls`` restricts it to the calls of a section."""
    context: str
    fid: int
    how: str                       # e.g. "bound as .run_job in msm_sched_ops (drm_sched_backend_ops)"
    file: str
    line: int
    calls: frozenset[int] | None = None


@dataclass(frozen=True)
class ContextRule:
    id: str
    context: str
    doc: RuleDoc
    find: Callable[..., list[Entry]]


class NameSet:
    """Exact names plus fnmatch patterns (``ioremap*``), matched fast."""

    def __init__(self, names):
        names = list(names)
        self.exact = frozenset(n for n in names if not any(ch in n for ch in "*?["))
        patterns = [n for n in names if n not in self.exact]
        self._re = re.compile("|".join(fnmatch.translate(p) for p in patterns)) if patterns else None

    def __contains__(self, name: str) -> bool:
        return name in self.exact or (self._re is not None and self._re.match(name) is not None)

    def among(self, names) -> list[str]:
        return _among(self.exact, self._re, names)


@dataclass(frozen=True)
class NamedTable:
    """name (or pattern) -> value, pattern entries tried in order after exact ones."""
    exact: dict = field(default_factory=dict)
    patterns: tuple = ()                       # (compiled glob, value), in table order
    # all patterns at once, derived from them: most names match none
    _any_pattern: re.Pattern | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_any_pattern",
                           re.compile("|".join(rx.pattern for rx, _ in self.patterns)) if self.patterns else None)

    @classmethod
    def of(cls, table: dict) -> "NamedTable":
        exact = {k: v for k, v in table.items() if not any(ch in k for ch in "*?[")}
        return cls(exact, tuple((re.compile(fnmatch.translate(k)), v) for k, v in table.items() if k not in exact))

    def get(self, name: str, default=None):
        if name in self.exact:
            return self.exact[name]
        if self._any_pattern is None or self._any_pattern.match(name) is None:
            return default
        for rx, v in self.patterns:
            if rx.match(name):
                return v
        return default

    def __contains__(self, name: str) -> bool:
        return self.get(name, _MISSING) is not _MISSING

    def among(self, names) -> list[str]:
        return _among(self.exact, self._any_pattern, names)


_MISSING = object()


def _among(exact, any_pattern: re.Pattern | None, names) -> list[str]:
    """Those of ``names`` a table holds, in their order: a program calls
    hundreds of thousands of names and a rule knows a few hundred, so the
    exact ones are a set lookup each and the patterns one regex."""
    if any_pattern is None:
        return [n for n in names if n in exact]
    match = any_pattern.match
    return [n for n in names if n in exact or match(n) is not None]


def entries_from_ops(program, fields: dict[str, tuple[str, ...]], context: str) -> list[Entry]:
    """Functions bound to ``struct.field`` for each struct -> fields of ``fields``.

    Assignments whose receiver type could not be inferred (``x->scan_objects = fn``)
    are accepted by field name: these field names are specific to their struct.
    """
    entries = []
    for struct, names in fields.items():
        for fname in names:
            for key in ((struct, fname), ("", fname)):
                for b in program.bound.get(key, ()):
                    where = f" in {b.var}" if b.var else ""
                    entries.append(Entry(context, b.fid, f"bound as .{fname}{where} ({struct})", b.file, b.line))
    return entries
