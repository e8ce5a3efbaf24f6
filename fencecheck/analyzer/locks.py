"""Lock-order inversions: a lock a context takes, held elsewhere across a sink.

Lock classes name a lock by what it is: ``struct msm_gpu::lock`` for
``&gpu->lock`` when the object's type can be inferred, ``name@file`` for a
file-scope lock, ``unit::?->field`` (a name scoped to the driver unit) when
the type is unknown; a lock reached through a bare parameter or local
pointer has no class and is ignored.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from sys import intern

from ..rules import held_lock as data
from ..rules.base import Entry
from .facts import FlatDict, SharedValues
from .flow import held_at_calls
from .link import CallSites, Program, chain_from_text
from .reach import NO_ACTIONS, Finding, Step, call_step, sink_walk, walk
from .summaries import FOLLOW, REPORT, RuleSummary

MAX_ALSO = 10
MAX_HOLDER_SEARCH = 64    # calls under a lock whose callees are searched for a sink
MAX_HOLDER_WALK = 2000    # functions visited from one such callee that may lead to a sink
# Every name held_lock's tables know: only their calls take, drop or scope a lock.
_LOCK_APIS = frozenset(data.ACQUIRE) | frozenset(data.RELEASE) | frozenset(data.SCOPED)


def lock_class(program: Program, fid: int, arg: str) -> str | None:
    chain = chain_from_text(arg)
    if chain is None:
        return None
    fref = program.funcs[fid]
    if len(chain) == 1:
        name = chain[0][2:]
        if name in fref.fn.locals or any(p == name for p, _ in fref.fn.params):
            return None                      # a pointer to some lock: identity unknown
        facts = program.files.get(fref.file)
        defined_here = facts is not None and (name in facts.globals or any(
            c.args and c.args[0] == name for c in facts.file_calls))
        # interned: the acquisitions and held sets of a tree name the same classes over and over
        return intern(f"{name}@{fref.file}") if defined_here else name
    owner = program.type_of(chain[:-1], fref, fref.file)
    if owner:
        return intern(f"struct {owner}::{chain[-1]}")
    return intern(f"{fref.unit}::?->{chain[-1]}")


class Acquired(FlatDict):
    """One function's {call index: lock class acquired there}, in call order."""
    __slots__ = ()


class HeldAt(FlatDict):
    """One function's {call index: the classes held at it}, in call order."""
    __slots__ = ()


@dataclass
class _Locks:
    acquired_in: dict[int, Acquired]               # fid -> its acquisitions
    held: dict[int, HeldAt]                        # fid -> call -> classes held at it


def _collect(program: Program) -> _Locks:
    """Acquisitions and held sets of every function that takes a lock.

    A driver wrapper that returns with a lock held (``foo_ring_lock(ring)``)
    acquires that lock for its callers, one that drops a lock it did not take
    releases it: a second pass applies what the first found, to the callers
    of such wrappers (what the others hold does not depend on them).
    """
    names = list(data.ACQUIRE) + list(data.SCOPED)
    fids = sorted({fid for n in names for fid, _ in program.callers_by_name.get(n, ())})
    takes: dict[int, str] = {}      # wrapper fid -> class it returns holding
    drops: dict[int, str] = {}      # wrapper fid -> class it releases without taking
    of_function: dict[int, _FunctionLocks] = {}
    # the same few sets of classes are held all over a tree: one object each
    # (a whole tree's held sets were 192,000 objects, some 40 MB, for 14,600 distinct ones)
    shared = SharedValues()
    for _ in range(2):
        wrapper_callers = {c for w in list(takes) + list(drops) for c in program.graph.predecessors(w)}
        todo = sorted(set(fids) | wrapper_callers | set(drops))
        for fid in todo:
            if fid not in of_function or fid in wrapper_callers:
                of_function[fid] = _locks_of(program, fid, takes, drops, shared)
        found_takes: dict[int, str] = {}
        found_drops: dict[int, str] = {}
        for fid in todo:
            mine = of_function[fid]
            for cls in sorted(mine.at_exit):
                found_takes.setdefault(fid, cls)
            for cls in sorted(mine.released - mine.taken):
                found_drops.setdefault(fid, cls)
        if found_takes == takes and found_drops == drops:
            break
        takes, drops = found_takes, found_drops
    acquired_in = {}
    for fid in todo:
        acquired = dict(of_function[fid].acquire)
        if acquired:
            acquired_in[fid] = Acquired(x for item in sorted(acquired.items()) for x in item)
    return _Locks(acquired_in, {fid: of_function[fid].held for fid in todo})


@dataclass
class _FunctionLocks:
    acquire: list[tuple[int, str]]              # (call, class acquired there), in the order met
    held: HeldAt                                # call -> classes held at it
    at_exit: frozenset[str]
    taken: set[str]
    released: set[str]


def _locks_of(program: Program, fid: int, takes: dict[int, str], drops: dict[int, str],
              shared: SharedValues) -> _FunctionLocks:
    calls = program.funcs.fn[fid].calls
    mine = _FunctionLocks([], HeldAt(), frozenset(), set(), set())

    def via_wrapper(i: int, table: dict[int, str]) -> str | None:
        targets = program.call_targets(fid, i)
        return table.get(targets[0]) if len(targets) == 1 else None

    def cls_of(i: int, table: dict) -> str | None:
        arg = table.get(calls.callee(i))
        if arg is None:
            return None
        args = calls.args(i)
        return lock_class(program, fid, args[arg]) if arg < len(args) else None

    def acquires(i: int) -> str | None:
        cls = cls_of(i, data.ACQUIRE) or via_wrapper(i, takes)
        if cls:
            mine.acquire.append((i, cls))
            mine.taken.add(cls)
        return cls

    def releases(i: int) -> str | None:
        cls = cls_of(i, data.RELEASE) or via_wrapper(i, drops)
        if cls:
            mine.released.add(cls)
        return cls

    def scoped(i: int):
        callee, args = calls.callee(i), calls.args(i)
        spec = data.SCOPED.get(callee)
        if spec is None or spec[0] >= len(args):
            return None
        if callee != "guard()":
            kind = args[0]
        else:       # `guard(mutex)(&l)`: the lock type is the argument of the call before
            before = calls.args(i - 1) if i else ()
            kind = before[0] if before else ""
        if kind.strip() in data.NOT_LOCKS:
            return None
        cls = lock_class(program, fid, args[spec[0]])
        if cls:
            mine.acquire.append((i, cls))
            mine.taken.add(cls)
        return (cls, spec[1]) if cls else None

    # Only calls of a lock API or of a lock wrapper can take, drop or scope a lock.
    watched = {i for i, callee in enumerate(calls.callees()) if callee in _LOCK_APIS}
    watched.update(i for i, found in program.targets[fid].items()
                   if len(found) == 1 and (found[0] in takes or found[0] in drops))
    held, mine.at_exit = held_at_calls(program.funcs.fn[fid].skeleton(), acquires, releases, scoped, watched)
    mine.held = HeldAt(x for idx in sorted(held) for x in (idx, shared[held[idx]]))
    return mine


def find_inversions(program: Program, entries: list[Entry], summaries: list[RuleSummary]) -> list[Finding]:
    locks = _collect(program)
    if not locks.acquired_in:
        return []
    by_rule = {s.rule.id: s for s in summaries}
    # holders[class] -> calls made while that class may be held, in a stable order
    holders: dict[str, CallSites] = {}
    for fid in sorted(locks.held):
        for idx in sorted(locks.held[fid]):
            for cls in sorted(locks.held[fid][idx]):
                sites = holders.get(cls)
                if sites is None:
                    sites = holders[cls] = CallSites("i")
                sites.extend((fid, idx))
    nearest = _NearestSinks(program)
    ranked_holders: dict[tuple[str, str], _RankedHolders] = {}   # (class, context) -> its holders, ranked
    best_holders: dict[tuple[str, str, frozenset[int]], tuple | None] = {}
    findings: dict[tuple[int, str], Finding] = {}
    # Only classes held somewhere across something that may be forbidden can
    # invert; the walks from entries need only reach their acquisitions.
    holder_rules = [by_rule[k] for k in sorted({k for ks in data.HOLDER_SINKS.values() for k in ks})
                    if k in by_rule]
    dangerous = {cls for cls, calls in holders.items()
                 if any((f, i) in r.sites or any(t in r.may_reach for t in program.call_targets(f, i))
                        for f, i in calls for r in holder_rules)}
    may_lock = program.reaching_functions({fid for fid, acquired in locks.acquired_in.items()
                                           if any(cls in dangerous for cls in acquired.values())})
    lock_targets = program.targets_within(may_lock)

    for entry in entries:
        sinks = [by_rule[k] for k in data.HOLDER_SINKS.get(entry.context, ()) if k in by_rule]
        if not sinks:
            continue
        on_path: set[int] = set()

        if entry.fid not in may_lock:
            continue

        def actions(fid: int) -> dict[int, int]:
            on_path.add(fid)    # exact for holders: they acquire, so the walk reaches them
            acquired = locks.acquired_in.get(fid)
            # made at each visit: kept for every function that takes a lock, a whole tree's were 16 MB
            return {idx: REPORT | FOLLOW for idx, cls in acquired.items() if cls in dangerous} \
                if acquired else NO_ACTIONS
        acquisitions = list(walk(program, entry, actions, lock_targets))
        for fid, idx, hops in acquisitions:
            cls = locks.acquired_in[fid][idx]
            key = (entry.fid, cls)
            if key in findings or cls not in holders:
                continue
            ranked = ranked_holders.get((cls, entry.context))
            if ranked is None:
                ranked = ranked_holders[(cls, entry.context)] = _rank_holders(program, holders[cls], sinks)
            # A holder on the context's own path is no inversion: the sink under
            # the lock is then on the path itself, and reported as such.  Which
            # holders are on it is all the search depends on, besides the class
            # and context: hundreds of entries take the same core locks.
            best_key = (cls, entry.context, ranked.holders & on_path)
            if best_key not in best_holders:
                best_holders[best_key] = _best_holder(program, locks, ranked, on_path, cls, sinks, nearest)
            holder = best_holders[best_key]
            if holder is None:
                continue
            also = _also_under_lock(locks, holder[4], cls, sinks, holder[1:3])
            findings[key] = _finding(program, entry, fid, idx, hops(), cls, holder, also)
    return list(findings.values())


def _also_under_lock(locks: _Locks, holder_fid: int, cls: str, sinks: list[RuleSummary], shown) -> list[int]:
    """Other forbidden calls the holder makes under the same lock (the fix covers them too)."""
    out = []
    for idx, held in sorted(locks.held.get(holder_fid, {}).items()):
        if cls in held and (holder_fid, idx) != tuple(shown) and \
                any((holder_fid, idx) in s.sites for s in sinks):
            out.append(idx)
    return out[:MAX_ALSO]


@dataclass
class _NearestSinks:
    """The nearest sink site of a rule from a function, for holder searches,
    each searched once, among the functions from which a walk from the
    function's unit can report one (RuleSummary.reporting): on the whole
    tree three searches in four find none, most of them without a step.  A
    search that finds none explored all it can reach from its function's
    driver unit: later searches of the rule from that unit skip those
    functions (reach.walk's dead ends)."""
    program: Program
    found: dict[tuple[int, str], tuple | None] = field(default_factory=dict)   # (function, rule) -> site
    dead_ends: dict[tuple[str, str], set[int]] = field(default_factory=dict)    # (rule, unit) -> functions

    def site_from(self, fid: int, summary: RuleSummary) -> tuple | None:
        key = (fid, summary.rule.id)
        if key not in self.found:
            fref = self.program.funcs[fid]
            unit = self.program.units[fid]
            dead = self.dead_ends.setdefault((summary.rule.id, unit), set())
            walk_ = sink_walk(self.program, Entry("signalling", fid, "", fref.file, fref.fn.line), summary,
                              MAX_HOLDER_WALK, dead, summary.reporting.within(unit))
            found = next(iter(walk_), None)
            self.found[key] = found and found[:2] + (found[2](),)
        return self.found[key]


@dataclass
class _RankedHolders:
    """The holders of one lock class that _best_holder looks at, in holder
    order: worked out once per (class, context), since a core lock has
    thousands of holders and hundreds of entries take it."""
    direct: list[tuple[RuleSummary, int, int]]    # a forbidden call right under the lock
    calling: CallSites                             # calls under the lock that have targets
    holders: frozenset[int] = field(init=False)    # the functions making them

    def __post_init__(self):
        self.holders = frozenset([fid for _, fid, _ in self.direct] + [fid for fid, _ in self.calling])


def _rank_holders(program: Program, held_at: CallSites, sinks: list[RuleSummary]) -> _RankedHolders:
    direct = []
    for fid, idx in held_at:
        summary = next((s for s in sinks if (fid, idx) in s.sites and idx not in s.exempt.get(fid, ())), None)
        if summary is not None:
            direct.append((summary, fid, idx))
    calling = CallSites("i")
    for fid, idx in held_at:
        if program.call_targets(fid, idx):
            calling.extend((fid, idx))
    return _RankedHolders(direct, calling)


def _best_holder(program, locks: _Locks, ranked: _RankedHolders, on_path: set[int], cls: str,
                 sinks: list[RuleSummary], nearest):
    """A short path, anywhere in the tree but off ``on_path``, that holds
    ``cls`` across a sink.

    A forbidden call made right under the lock wins; otherwise the callees of
    at most MAX_HOLDER_SEARCH calls made under it are searched (shortest
    first), which bounds the work on classes held in thousands of places.
    """
    best = next(((summary, fid, idx, []) for summary, fid, idx in ranked.direct if fid not in on_path), None)
    searched = 0
    for fid, idx in ranked.calling if best is None else ():
        if fid in on_path:
            continue
        searched += 1
        if searched > MAX_HOLDER_SEARCH:
            break
        targets = program.call_targets(fid, idx)
        for summary in sinks:
            if idx in summary.exempt.get(fid, ()):
                continue    # e.g. inside memalloc_noreclaim_save(): nothing below reclaims
            for g in targets:
                if g not in summary.may_reach:
                    continue
                found = nearest.site_from(g, summary)
                if found is not None:
                    path = (summary, found[0], found[1], [(fid, idx)] + found[2])
                    if best is None or len(path[3]) < len(best[3]):
                        best = path
                    break
    if best is None:
        return None
    summary, site_fid, site_idx, hops = best
    holder_fid = hops[0][0] if hops else site_fid
    acquired_at = min((i for i, c in locks.acquired_in.get(holder_fid, {}).items() if c == cls), default=None)
    return summary, site_fid, site_idx, hops, holder_fid, acquired_at


def _finding(program: Program, entry: Entry, fid: int, idx: int, hops, cls: str, holder, also) -> Finding:
    summary, site_fid, site_idx, holder_hops, holder_fid, acquired_at = holder
    ef = program.funcs[entry.fid]
    steps = [Step(ef.file, ef.fn.line, ef.fn.col, ef.fn.name, f"{ef.fn.name}: {entry.how}")]
    steps += [call_step(program, f, i) for f, i in hops]
    steps.append(call_step(program, fid, idx))
    related = []
    if acquired_at is not None:
        related.append(call_step(program, holder_fid, acquired_at))
    related += [call_step(program, f, i) for f, i in holder_hops]
    related.append(call_step(program, site_fid, site_idx))
    related += [call_step(program, f, i) for f, i in summary.witness(site_fid, site_idx, program)]
    for i in also:
        step = call_step(program, holder_fid, i)
        related.append(Step(step.file, step.line, step.col, step.function, "also under the lock: " + step.text))
    holder_name = program.funcs.fn[holder_fid].name
    site_what = summary.what(site_fid, site_idx, program)
    what = f"{cls} is taken here, and {holder_name}() holds it across {site_what} [{summary.rule.id}]"
    return Finding(
        rule=data.ID, context=entry.context, entry=ef.fn.name, entry_how=entry.how,
        sink=program.call(fid, idx).callee, what=what, steps=tuple(steps), primary=len(steps) - 1,
        fix="do not hold the lock across the operation (preallocate, idr_preload + GFP_NOWAIT), "
            "or use a different lock on the signalling path",
        related=tuple(related), lock=cls)
