"""Stage 4b: per-function sink summaries for one sink rule.

For every function, which of its calls are *sink sites* of the rule:
* ``api``: the call is to an API the rule names (never followed into);
* ``wrapper``: the callee always reaches a sink site (``msm_gem_lock``, a
  buffer-object constructor): the call is where a developer meets the sink;
* ``param``: the callee passes a parameter to the sink (a gfp mask) and this
  call chooses a value that makes it forbidden, so the finding lands where the
  mask is chosen.
Summaries are computed bottom-up to a fixpoint, so recursion terminates.
The fixpoint settles which calls are sites, which parameters flow to a sink
and which functions always reach one.  Which target a site names and which
call a flow goes on through are kept, as evaluation goes, as the first in
call, target and parameter order of all it has met; which call witnesses
"always" is found again for a function whose sites grew after it was: the
same whatever order evaluation took, as a re-evaluation of only what a
change touches needs.  Taken as evaluation met them, they differed for 793
of a whole tree's 19,625 findings between two orders.
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field
from itertools import chain

from ..rules.base import Hit, ParamFlow, SinkRule
from .facts import FlatDict
from .flow import always_reaches, calls_in_scope
from .link import Program, TargetsWithin


_NONE: frozenset[int] = frozenset()
# Evidence below a sink site stops after this many calls: enough to show the
# way, bounded for 10,000-deep generated call chains.
MAX_WITNESS = 200


@dataclass(frozen=True, slots=True)
class Site:
    kind: str               # "api" | "wrapper" | "param"
    what: str               # why the terminal call is forbidden (from the rule; "" for a wrapper: RuleSummary.what)
    callee: int = -1        # wrapper/param: the function the chain continues in


# What a reachability walk does at a call (reach.walk): report it, follow it
# into its targets, follow it only into targets in the entry's own driver unit,
# or a combination.
REPORT, FOLLOW, FOLLOW_HOME = 1, 2, 4


@dataclass(frozen=True, slots=True)
class ParamSink:
    call: int               # call index in the function where the parameter flows on
    callee: int = -1        # -1: flows straight into an API


@dataclass
class RuleSummary:
    rule: SinkRule
    sites: dict[tuple[int, int], Site] = field(default_factory=dict)
    always: dict[int, int] = field(default_factory=dict)             # fid -> witness call
    # fid -> {parameter index: where it flows on}: dicts while summarising,
    # then FlatDicts (125,000 dicts of one flow or two took 32 MB on a whole tree)
    params: dict[int, dict[int, ParamSink] | FlatDict] = field(default_factory=lambda: defaultdict(dict))
    exempt: dict[int, set[int]] = field(default_factory=dict)        # fid -> calls in exempt scopes
    may_reach: set[int] = field(default_factory=set)
    # fid -> {call index: walk action} for the calls a walk does not simply
    # follow: sites are reported, other API calls and exempt calls end it
    stops: dict[int, dict[int, int]] = field(default_factory=dict)
    # the call targets within may_reach, for the walks (filled as they go)
    walk_targets: TargetsWithin | None = None
    # per home unit, the functions from which a walk can report a site
    # (reach.ReportingFunctions, set by prepare_walks once stops are final)
    reporting: object = None

    def what(self, fid: int, idx: int, program: Program) -> str:
        """Why the call at a site is forbidden.  A wrapper's message follows
        the witnesses down to the API call: made when a finding asks, since
        the sites are final by then, and a whole tree's 173,000 wrapper
        sites' messages took 24 MB, most of them never shown."""
        site = self.sites[(fid, idx)]
        if site.kind != "wrapper":
            return site.what
        call = program.call(fid, idx)
        return f"{call.callee or call.field}() {_terminal_what(self, site.callee)}"

    def witness(self, fid: int, idx: int, program: Program) -> list[tuple[int, int]]:
        """Calls from a site down to the API call that makes it forbidden."""
        chain: list[tuple[int, int]] = []
        seen: set[tuple[int, int]] = set()
        site = self.sites.get((fid, idx))
        param = -1
        if site is not None and site.kind == "param":
            param = _param_passed(self, program, fid, idx, site.callee)
        cur = site.callee if site is not None else -1
        while cur >= 0 and len(chain) < MAX_WITNESS:
            if param >= 0:
                ps = self.params.get(cur, {}).get(param)
                if ps is None:
                    break
                step, nxt = (cur, ps.call), ps.callee
                param = _param_passed(self, program, cur, ps.call, nxt) if nxt >= 0 else -1
            else:
                w = self.always.get(cur)
                if w is None:
                    break
                step = (cur, w)
                s = self.sites.get(step)
                nxt = s.callee if s is not None else -1
                if s is not None and s.kind == "param":
                    param = _param_passed(self, program, cur, w, nxt)
            if step in seen:
                break
            seen.add(step)
            chain.append(step)
            cur = nxt
        return chain

    def shown_by(self, fid: int, idx: int, program: Program) -> set[tuple[int, int]]:
        """Sites whose sink this site's finding already shows: below a wrapper,
        the site every definition it calls always reaches, down the chain;
        below a parameter site, its witness."""
        site = self.sites.get((fid, idx))
        if site is None or site.kind == "api":
            return set()
        if site.kind == "param":
            return set(self.witness(fid, idx, program))
        out: set[tuple[int, int]] = set()
        stack = [(fid, idx)]
        while stack:
            for g in program.call_targets(*stack.pop()):
                w = self.always.get(g)
                if w is None or (g, w) in out:
                    continue
                out.add((g, w))
                below = self.sites.get((g, w))
                if below is not None and below.kind == "wrapper":
                    stack.append((g, w))
                elif below is not None and below.kind == "param":
                    out.update(self.witness(g, w, program))
        return out


def _param_passed(summary: RuleSummary, program: Program, fid: int, idx: int, callee: int) -> int:
    """Index of the callee parameter through which this call's argument reaches the sink."""
    if callee < 0:
        return -1
    flows = summary.params.get(callee, {})
    call = program.call(fid, idx)
    for i in sorted(flows):
        if i < len(call.args):
            return i
    return -1


def summarize(program: Program, rule: SinkRule, order: list[int] | None = None) -> RuleSummary:
    """``order``: the functions in the order evaluation starts from (default:
    by id); the summary does not depend on it."""
    s = RuleSummary(rule)
    functions = program.funcs.fn
    targets_of = program.targets
    for opens, closes in rule.exempt_scopes:
        for name in opens:
            for fid, _ in program.callers_by_name.get(name, ()):
                body = functions[fid].calls
                inside = calls_in_scope(functions[fid].skeleton(),
                                        lambda i, b=body: b.callee(i) in opens,
                                        lambda i, b=body: b.callee(i) in closes)
                s.exempt.setdefault(fid, set()).update(inside)

    callers = program.callers
    verdicts = _api_verdicts(program, rule, s.exempt)     # API calls: judged, never followed

    # Which target a site names and which call a flow goes on through are
    # kept as the first in call, then target order (then parameter order, in
    # _judge) of all evaluation has met, not as evaluation met them: at the
    # fixpoint every call has been judged through each target as that target
    # finally is, so the summary does not depend on the order evaluation took.
    # site -> (target position, is a param site): through one target, always reaching comes first
    site_rank: dict[tuple[int, int], tuple[int, bool]] = {}
    # sites per function, and how many there were when its "always" witness was found
    site_count: dict[int, int] = defaultdict(int)
    witnessed_at: dict[int, int] = {}

    def add_param(fid: int, index: int, sink: ParamSink, position: int = 0) -> bool:
        """True when the parameter newly flows to a sink."""
        flows = s.params[fid]
        known = flows.get(index)
        if known is None:
            flows[index] = sink
            return True
        if sink.call < known.call or sink.call == known.call and sink.callee != known.callee and \
                position < targets_of[fid][sink.call].index(known.callee):
            flows[index] = sink
        return False

    def add_site(fid: int, idx: int, site: Site, rank: tuple[int, bool]) -> bool:
        """True when the call is a new site.  An equal rank is the same target
        judged again, as it now is: its message replaces the old one."""
        key = (fid, idx)
        known = site_rank.get(key)
        if known is not None and rank > known:
            return False
        s.sites[key] = site
        site_rank[key] = rank
        site_count[fid] += known is None
        return known is None

    # Callees whose summary changed since a function was last evaluated.  A
    # call to none of them (nor back into the function, which may see what
    # this very evaluation placed) places nothing it did not place before:
    # evaluate skips it, with the same outcome.
    changed_since: dict[int, set[int]] = defaultdict(set)
    names = program.names
    always = s.always

    def evaluate(fid: int) -> bool:
        """Place what this function's calls reach; True when that changed."""
        fn = functions[fid]
        calls = fn.calls
        exempt = s.exempt.get(fid, ())
        fresh = changed_since.pop(fid, _NONE)
        changed = new_site = False
        # Only API calls and calls with targets can place anything, in call order.
        api_here = verdicts.get(fid)
        fn_targets = targets_of[fid]
        if api_here:
            # an API call is judged, never followed: its targets go unread
            with_api = dict.fromkeys(api_here, ())
            with_api.update(fn_targets.items())
            calls_in_order = sorted(with_api.items())
        else:
            calls_in_order = fn_targets.items()
        for idx, targets in calls_in_order:
            if api_here and idx in api_here:
                if idx in exempt or (fid, idx) in s.sites:
                    continue
                verdict = api_here[idx]
                if isinstance(verdict, Hit):
                    s.sites[(fid, idx)] = Site("api", verdict.what)
                    site_count[fid] += 1
                    changed = new_site = True
                elif isinstance(verdict, ParamFlow):
                    changed |= add_param(fid, verdict.index, ParamSink(idx))
                continue
            if fid not in targets and fresh.isdisjoint(targets) or idx in exempt:
                continue
            # judged again only through the targets that changed (and the
            # function itself): the others were judged as they are
            for position, g in enumerate(targets):
                if g != fid and g not in fresh:
                    continue
                # "always reaches" is only trusted through a plain call of that
                # very function, not through ops tables or framework hops;
                # a wrapper's message is made when asked (RuleSummary.what)
                site = Site("wrapper", "", g) if g in always and names[g] == calls.callee(idx) else None
                passed = s.params.get(g)
                if passed:
                    hit, flows = _judge(s.rule, fn, idx, passed)
                    for index in flows:
                        changed |= add_param(fid, index, ParamSink(idx, g), position)
                    if site is None and hit is not None:
                        site = Site("param", hit, g)
                if site is not None and add_site(fid, idx, site, (position, site.kind == "param")):
                    changed = new_site = True
        # whether every path reaches a site depends on the sites alone
        if new_site and fid not in always:
            w = always_reaches(fn.skeleton(), lambda i: (fid, i) in s.sites)
            if w is not None:
                always[fid] = w
                witnessed_at[fid] = site_count[fid]
        return changed

    queue = deque(range(len(functions)) if order is None else order)
    queued = set(queue)
    while queue:
        fid = queue.popleft()
        queued.discard(fid)
        # A function with no API call, none of whose callees has changed, has
        # nothing to place: skipping it changes no evaluation's order or outcome.
        if (fid in verdicts or fid in changed_since) and evaluate(fid):
            for c in callers.get(fid):
                changed_since[c].add(fid)
                if c not in queued:
                    queued.add(c)
                    queue.append(c)

    s.params = {fid: FlatDict(chain.from_iterable(sorted(flows.items()))) for fid, flows in s.params.items() if flows}
    # a function whose sites grew since its witness was found may have an earlier one
    for fid in always:
        if site_count[fid] != witnessed_at[fid]:
            always[fid] = always_reaches(functions[fid].skeleton(), lambda i, f=fid: (f, i) in s.sites)
    # Functions from which some site can be reached: the only ones worth visiting.
    with_sites = {fid for fid, _ in s.sites}
    s.may_reach = set(with_sites)
    stack = list(with_sites)
    while stack:
        f = stack.pop()
        for c in callers.get(f):
            if c not in s.may_reach:
                s.may_reach.add(c)
                stack.append(c)
    for fid in sorted(verdicts):
        for idx in sorted(verdicts[fid]):
            s.stops.setdefault(fid, {})[idx] = 0
    for fid, idx in s.sites:
        s.stops.setdefault(fid, {})[idx] = REPORT
    for fid, calls in s.exempt.items():
        for idx in calls:
            s.stops.setdefault(fid, {})[idx] = 0
    s.walk_targets = program.targets_within(s.may_reach)
    return s


def _judge(rule: SinkRule, fn, idx: int, passed: dict[int, ParamSink]) -> tuple[str | None, list[int]]:
    """What a call's arguments make of the callee parameters that reach a
    sink (``passed``): the first one, in parameter order, that makes it
    forbidden (its message), and the caller's parameters that flow on."""
    argument = rule.argument
    hit = None
    flows: list[int] = []
    if argument is None:
        return hit, flows
    args = fn.calls.args(idx)
    for i in sorted(passed):
        if i >= len(args):
            continue
        v = argument(args[i], fn)
        if isinstance(v, Hit):
            if hit is None:
                hit = v.what
        elif isinstance(v, ParamFlow):
            flows.append(v.index)
    return hit, flows


def _api_verdicts(program: Program, rule: SinkRule, exempt: dict[int, set[int]]) -> dict[int, dict]:
    """The rule's verdict on each call of an API it knows (outside exempt
    scopes), by function and call: such a call is judged, never followed,
    even when the verdict is None (a zero timeout, a mask that does not
    reclaim)."""
    verdicts: dict[int, dict] = {}
    functions = program.funcs.fn
    callers_by_name = program.callers_by_name
    for name in rule.api.among(callers_by_name):
        for fid, idx in callers_by_name[name]:
            if idx in exempt.get(fid, ()):
                continue
            fn = functions[fid]
            verdicts.setdefault(fid, {})[idx] = rule.match(name, fn.calls.args(idx), fn)
    return verdicts


def _terminal_what(s: RuleSummary, fid: int) -> str:
    """Describe the API call a wrapper always reaches: "reaches dma_resv_lock() ..."."""
    seen = set()
    while fid not in seen:
        seen.add(fid)
        w = s.always.get(fid)
        site = s.sites.get((fid, w)) if w is not None else None
        if site is None:
            break
        if site.kind != "wrapper":
            return "reaches " + site.what
        fid = site.callee
    return "reaches a forbidden call"
