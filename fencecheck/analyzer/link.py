"""Stage 3: all files' facts -> one Program with a call graph.

Resolution rules (README "How calls are resolved" says the same):
* a direct call resolves to a static function of the caller's own file, else
  to every non-static definition of that name, else to static (inline)
  definitions in headers: the one the caller's includes reach when several
  exist, all of them when the includes do not tell; in each case only to
  definitions the caller's build can link (build_of: common code, one
  architecture, a host program);
* a call through a struct field resolves to the functions bound to that field
  of the receiver's struct type (inferred from declarations) -- those of the
  caller's driver unit when it has any, else all of them; when the type is not
  known, to functions bound to a field of that name within the unit only;
* a call through an array of function pointers resolves to the array's
  initializer; a call through a function-pointer parameter resolves to the
  functions callers pass for it; a field a parameter was stored into resolves
  to what callers pass for that parameter;
* framework hops (rules/framework.py) add edges a call makes through core code.
"""
from __future__ import annotations

import fnmatch
import functools
import os
import re
import sys
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, chain
from typing import TYPE_CHECKING, Callable, Iterator

from ..rules import framework
from .facts import Binding, Call, FileFacts, FlatDict, Function

if TYPE_CHECKING:
    import networkx as nx


@dataclass(slots=True)
class FuncRef:
    """One function definition in the program, as ``Functions`` hands it out."""
    id: int
    file: str
    unit: str
    fn: Function


class Functions(Sequence):
    """The program's functions by id (0..n-1): a FuncRef made when one is
    asked for, from three lists by id (``fn``, ``file``, ``unit``) that hot
    loops read directly.  A whole tree's 710,000 FuncRefs, kept, took 45 MB
    for the scan's length."""
    __slots__ = ("fn", "file", "unit")

    def __init__(self) -> None:
        self.fn: list[Function] = []
        self.file: list[str] = []
        self.unit: list[str] = []           # interned: equal units are one object

    def append(self, file: str, unit: str, fn: Function) -> None:
        self.fn.append(fn)
        self.file.append(file)
        self.unit.append(unit)

    def __getitem__(self, fid: int) -> FuncRef:    # type: ignore[override]
        if not 0 <= fid < len(self.fn):
            raise IndexError(fid)
        return FuncRef(fid, self.file[fid], self.unit[fid], self.fn[fid])

    def __len__(self) -> int:
        return len(self.fn)

    def __iter__(self) -> Iterator[FuncRef]:
        return map(FuncRef, range(len(self.fn)), self.file, self.unit, self.fn)


@dataclass(slots=True)
class BoundFunction:
    """A function bound to ``struct.field`` (resolved through nesting)."""
    fid: int
    struct: str
    field: str
    file: str
    line: int
    var: str


@dataclass(slots=True)
class Registration:
    """A function registered to run later (work item, irq, timer...)."""
    fid: int
    kind: str
    api: str
    file: str
    line: int
    obj_field: str      # struct type and member the function was bound to, e.g. "msm_gpu.retire_work"
    unit: str


class CallSites(array):
    """The calls of one callee name, as (function id, call index) pairs in
    call order, packed two ints to a pair in the array itself: a whole tree
    has four million, as tuples in lists 400 MB (and an array wrapped in an
    object of its own per name, 20 MB more)."""
    __slots__ = ()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        # one iterator zipped with itself pairs its items as it goes: no copy
        # of the array, so a loop that stops at the first call costs nothing more
        packed = array.__iter__(self)
        return zip(packed, packed)


class CallSitesByName(Mapping):
    """{callee name: its CallSites}: the names in the order first called,
    one array of every site grouped by name, and the names' positions
    sorted by name, which a look-up bisects.  In place of a dict of one
    CallSites per name (505,000 names on a whole tree, most called once or
    twice) it lowered the scan's peak by 50 MB; a scan looks up the few
    hundred names its rules know, and link the names of the functions
    passed to parameters."""
    __slots__ = ("_names", "_by_name", "_starts", "_sites")

    def __init__(self, names: list[str], name_of_site: array, sites: array) -> None:
        """From every call site in call order (``sites``: function id and
        call index, packed) and the position in ``names`` of each one's
        callee, by a counting sort: each name's sites stay in call order,
        and no object per name or per site is kept."""
        self._names = names
        self._by_name = array("i", sorted(range(len(names)), key=names.__getitem__))
        counts = Counter(name_of_site)          # counted in C
        self._starts = starts = array("i", accumulate((counts[at] for at in range(len(names))), initial=0))
        del counts
        fill = [2 * start for start in starts[:-1]]     # where each name's next site goes
        self._sites = packed = array("i", bytes(4 * len(sites)))
        pairs = iter(sites)
        for at, fid, idx in zip(name_of_site, pairs, pairs):
            slot = fill[at]
            fill[at] = slot + 2
            packed[slot] = fid
            packed[slot + 1] = idx

    def _position(self, name: str) -> int:
        """The name's position in first-called order, -1 if never called."""
        at = bisect_left(self._by_name, name, key=self._names.__getitem__)
        if at < len(self._by_name) and self._names[self._by_name[at]] == name:
            return self._by_name[at]
        return -1

    def __getitem__(self, name: str) -> CallSites:
        at = self._position(name)
        if at < 0:
            raise KeyError(name)
        return CallSites("i", self._sites[2 * self._starts[at]:2 * self._starts[at + 1]])

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and self._position(name) >= 0

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


@dataclass
class Program:
    funcs: Functions
    graph: nx.DiGraph                       # nodes: function ids; edges carry no data
    # function id -> {call index: resolved target function ids}, in call order
    targets: list[CallTargets]
    bound: dict[tuple[str, str], list[BoundFunction]]
    registrations: list[Registration]
    callers_by_name: CallSitesByName        # callee name -> call sites
    # (function id, call index) -> index of the parameter the call goes through
    param_calls: dict[tuple[int, int], int]
    files: dict[str, FileFacts] = field(default_factory=dict)
    resolve: Callable[[str, str], tuple[int, ...]] = lambda name, file: ()
    # struct type of a receiver chain, in a function of a file ("" if unknown)
    type_of: Callable[[tuple, "FuncRef | None", str], str] = lambda chain, fref, file: ""
    takes_callbacks: set[int] = field(init=False)   # functions with param_calls
    # (function id, call index) -> the reach.Step that reports it, made once (reach.call_step)
    call_steps: dict[tuple[int, int], object] = field(init=False, default_factory=dict)
    # per function id, for the walks' inner loop
    units: list[str] = field(init=False)
    names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.takes_callbacks = {fid for fid, _ in self.param_calls}
        # interned: equal units are one object, which `!=` in the walks sees at once
        self.units = self.funcs.unit
        self.names = [fn.name for fn in self.funcs.fn]

    @functools.cached_property
    def callers(self) -> "Callers":
        """Function id -> the functions whose calls resolve to it: its
        predecessors in the call graph, but for those that may only pass it
        to a parameter call (an edge the graph has for "may reach")."""
        passed_only: dict[int, set[int]] = defaultdict(set)
        for fid in self.takes_callbacks:
            direct = {t for found in self.targets[fid].values() for t in found}
            for g in self.graph.successors(fid):
                if g not in direct:
                    passed_only[g].add(fid)
        # _pred: the Neighbours _call_graph wrote, read without networkx's views
        predecessors = self.graph._pred
        return Callers(predecessors, {g: tuple(c for c in predecessors[g] if c not in passing)
                                      for g, passing in passed_only.items()})

    @functools.cached_property
    def by_name(self) -> dict[str, list[int]]:
        """Function ids by name, for the entry points a config names: built
        when first asked, as most scans never do (80 MB on a whole tree)."""
        found: dict[str, list[int]] = defaultdict(list)
        for fid, name in enumerate(self.names):
            found[name].append(fid)
        return dict(found)

    def targets_within(self, functions: set[int]) -> "TargetsWithin":
        return TargetsWithin(self.targets, functions)

    def reaching(self, names) -> set[int]:
        """Functions that call one of ``names`` or reach such a function."""
        return self.reaching_functions({fid for name in names for fid, _ in self.callers_by_name.get(name, ())})

    def reachable_from(self, sources: set[int]) -> set[int]:
        """``sources`` and every function they reach."""
        return _closure(sources, self.graph.successors)

    def reaching_functions(self, targets: set[int]) -> set[int]:
        """``targets`` and every function that reaches one of them."""
        return _closure(targets, self.graph.predecessors)

    def call(self, fid: int, idx: int) -> Call:
        return self.funcs.fn[fid].calls[idx]

    def call_targets(self, fid: int, idx: int) -> tuple[int, ...]:
        return self.targets[fid].get(idx, ())

    def passed_function(self, caller: int, call_idx: int, param: int) -> tuple[int, ...]:
        """Functions a specific call passes for a function-pointer parameter."""
        args = self.funcs.fn[caller].calls.args(call_idx)     # no Call made: walks ask at every visit
        if param >= len(args):
            return ()
        name = args[param].lstrip("&").strip()
        return self.resolve(name, self.funcs.file[caller]) if name.isidentifier() else ()

    def describe(self, fid: int) -> str:
        f = self.funcs[fid]
        return f"{f.fn.name} ({f.file}:{f.fn.line})"


class Callers:
    """What Program.callers answers: ``get(fid)``, the call graph's
    predecessors of a function (its Neighbours, not a copy: a whole tree's
    callers as tuples of their own took 76 MB), else those left once the
    parameter-call candidates are taken out, for the few functions passed
    to one."""
    __slots__ = ("_predecessors", "_filtered")

    def __init__(self, predecessors: "ByFunction", filtered: dict[int, tuple[int, ...]]):
        self._predecessors = predecessors
        self._filtered = filtered

    def get(self, fid: int) -> tuple[int, ...]:
        found = self._filtered.get(fid)
        return found if found is not None else self._predecessors[fid]


class TargetsWithin(dict):
    """Function id -> {call index: its targets that lie in ``functions``},
    calls left with none dropped; worked out per function when a walk first
    asks.  A walk kept within a set (a rule's may_reach) then skips the calls
    leading out of it once, not at every visit: on the whole tree two edges
    in three do."""
    __slots__ = ("targets", "functions")

    def __init__(self, targets: list["CallTargets"], functions: set[int]):
        super().__init__()
        self.targets = targets
        self.functions = functions

    def __missing__(self, fid: int) -> dict[int, tuple[int, ...]]:
        # a dict, not CallTargets: walks read these at every visit, and
        # a dict's items() is made in C
        functions = self.functions
        kept = {}
        for idx, found in self.targets[fid].items():
            inside = tuple(g for g in found if g in functions)
            if inside:
                # the call's own tuple when all its targets are kept: no copy
                kept[idx] = inside if len(inside) < len(found) else found
        self[fid] = kept
        return kept


# The one attribute dict of every node and edge (networkx's "thin graph"):
# never written to, since call graphs are frozen.
_NO_DATA: dict = {}


class CallTargets(FlatDict):
    """One function's {call index: its targets}, in call order: a whole
    tree's 1.1 million dicts took 163 MB, these 62 MB; most hold a few calls."""
    __slots__ = ()

    @classmethod
    def of(cls, targets: dict[int, tuple[int, ...]]) -> "CallTargets":
        return cls(chain.from_iterable(sorted(targets.items()))) if targets else NO_TARGETS


# the fifth of a whole tree's functions that resolve no call share it
NO_TARGETS = CallTargets()


class Neighbours(tuple, Mapping):
    """One function's callees (or callers) in the frozen call graph: a tuple
    that networkx reads as its {neighbour: edge data} dict, each edge's data
    the one shared empty dict.  A dict per function took 350 MB on a whole
    tree, as much as its calls; with tuples the scan's peak is 190 MB lower."""
    __slots__ = ()

    def __getitem__(self, node: int) -> dict:
        if node in self:
            return _NO_DATA
        raise KeyError(node)


# shared by every function without callees or callers
_NO_NEIGHBOURS = Neighbours()


class ByFunction(list):
    """{function id: its Neighbours} for the ids 0..n-1, as a list networkx
    reads as that dict (its ``_pred``): three dicts (``_adj``, ``_succ``,
    ``_pred``) of a whole tree's 710,000 functions took 120 MB, lists 17 MB.
    Item access stays list's own (an id is never out of range, nor
    negative); iterating, ``in`` and ``items`` are the dict's."""
    __slots__ = ()

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self)))

    def __contains__(self, fid) -> bool:
        return type(fid) is int and 0 <= fid < len(self)

    def keys(self) -> range:
        return range(len(self))

    def values(self) -> Iterator[Neighbours]:
        return list.__iter__(self)

    def items(self) -> Iterator[tuple[int, Neighbours]]:
        return enumerate(list.__iter__(self))


class Successors(Mapping):
    """networkx's ``_adj`` (and ``_succ``) of the call graph, made from the
    call targets when asked rather than stored: a function's callees in call
    order, each once, then what its parameter calls may call (``passed``, by
    function id).  The few readers (``Program.reachable_from``,
    ``Program.callers``) ask once per function; stored, the whole tree's
    successors took 43 MB for the scan's length."""
    __slots__ = ("_targets", "_passed")

    def __init__(self, targets: list[CallTargets], passed: dict[int, tuple[int, ...]]) -> None:
        self._targets = targets
        self._passed = passed

    def __getitem__(self, fid: int) -> Neighbours:
        found = self._targets[fid]
        passed = self._passed.get(fid, ())
        if not found and not passed:
            return _NO_NEIGHBOURS
        return Neighbours(dict.fromkeys(chain(chain.from_iterable(found.values()), passed)))

    def __contains__(self, fid) -> bool:
        return type(fid) is int and 0 <= fid < len(self._targets)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self._targets)))

    def __len__(self) -> int:
        return len(self._targets)


class _Nodes(Mapping):
    """networkx's ``_node`` of a graph of the ids 0..n-1, each node's data
    the one shared empty dict: a range, where a dict took 40 MB."""
    __slots__ = ("_ids",)

    def __init__(self, count: int) -> None:
        self._ids = range(count)

    def __getitem__(self, fid: int) -> dict:
        if fid in self._ids:
            return _NO_DATA
        raise KeyError(fid)

    def __contains__(self, fid) -> bool:
        return type(fid) is int and fid in self._ids

    def __iter__(self) -> Iterator[int]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)


@functools.lru_cache(maxsize=None)
def _call_graph_class() -> type:
    """networkx is imported here, when a graph is built: a re-scan of an
    unchanged tree builds none, and the import is a third of the command's
    start-up.  The class is made once: a class is a reference cycle, which
    a scan (run with the cyclic GC off) would keep for good."""
    import networkx as nx

    class CallGraph(nx.DiGraph):
        def _no_data(self) -> dict:
            return _NO_DATA
        node_attr_dict_factory = edge_attr_dict_factory = _no_data
    return CallGraph


def _call_graph(targets: list[CallTargets], passed: dict[int, tuple[int, ...]],
                edges: list[tuple[int, tuple[int, ...]]]) -> nx.DiGraph:
    """The frozen call graph of the functions ``0..len(targets)-1``: their
    successors read from ``targets`` and ``passed`` (``Successors``), their
    predecessors stored, from (caller, callees) pairs in the order the pairs
    give, each once (the callees of one pair are distinct, as link makes
    them).

    Written straight into networkx's adjacency (assigning ``_adj`` and
    ``_pred`` is how its subclasses and backends set them; it resets the
    cached views) rather than an edge at a time, which on the whole tree
    took 5 s; every function without callers shares one empty Neighbours,
    which freezing keeps empty."""
    import networkx as nx

    succ: dict[int, tuple[int, ...]] = {}       # callees of the callers met so far
    pred: dict[int, list[int]] = {}
    for caller, callees in edges:
        known = succ.get(caller)
        if known is None:
            succ[caller] = new = callees
        else:       # a caller's later pairs (parameter calls, stored fields, work waits): few
            seen = set(known)
            new = tuple(callee for callee in callees if callee not in seen)
            succ[caller] = known + new
        for callee in new:
            into = pred.get(callee)
            if into is None:
                pred[callee] = [caller]
            else:
                into.append(caller)
    del succ
    graph = _call_graph_class()()
    graph._node = _Nodes(len(targets))
    graph._adj = Successors(targets, passed)
    graph._pred = ByFunction(Neighbours(pred.pop(fid)) if fid in pred else _NO_NEIGHBOURS
                             for fid in range(len(targets)))
    return nx.freeze(graph)


def _closure(start: set[int], neighbours) -> set[int]:
    found = set(start)
    stack = list(found)
    while stack:
        for nxt in neighbours(stack.pop()):
            if nxt not in found:
                found.add(nxt)
                stack.append(nxt)
    return found


def tree_relative(path: str) -> str:
    """The part of ``path`` from its kernel top-level directory on ("" prefix kept out)."""
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part in framework.KERNEL_TOP_DIRS:
            return "/".join(parts[i:])
    return path


def unit_of(path: str, patterns=framework.UNIT_PATTERNS) -> str:
    """The driver a file belongs to, e.g. drivers/gpu/drm/msm for .../msm/adreno/a6xx_gpu.c."""
    return _unit_of_directory(path.rpartition("/")[0], patterns)


@functools.lru_cache(maxsize=1 << 14)     # a whole tree's 60,000 files lie in 4,000 directories
def _unit_of_directory(directory: str, patterns) -> str:
    path = directory + "/_" if directory else "_"      # any file of it: only its directories count
    rel = tree_relative(path)
    lead = path[:len(path) - len(rel)]
    parts = rel.split("/")[:-1]
    for pattern in patterns:
        pp = pattern.split("/")
        if len(parts) >= len(pp) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pp)):
            return lead + "/".join(parts[:len(pp)])
    return lead + "/".join(parts)


def build_of(path: str) -> str:
    """What a file is built into: "" (every kernel), "arch/<name>" (kernels of
    one architecture) or a host program directory ("tools", "scripts")."""
    parts = tree_relative(path).split("/")
    if len(parts) > 2 and parts[0] == "arch":
        return "arch/" + parts[1]
    if len(parts) > 1 and parts[0] in framework.HOST_DIRS:
        return parts[0]
    return ""


def _fallback_rank(build: str) -> tuple[int, str]:
    name = build[len("arch/"):]
    order = framework.FALLBACK_ARCHES
    return (order.index(name) if name in order else len(order), name)


class _Types:
    """Struct field types and typedefs merged over every scanned file."""

    def __init__(self, files: list[FileFacts]):
        self.structs: dict[str, dict[str, str]] = {}
        self.typedefs: dict[str, str] = {}
        for facts in files:
            for name, fields in facts.structs.items():
                merged = self.structs.setdefault(name, {})
                for k, v in fields.items():
                    merged.setdefault(k, v)
            for k, v in facts.typedefs.items():
                self.typedefs.setdefault(k, v)

    def canon(self, t: str) -> str:
        for _ in range(8):
            nxt = self.typedefs.get(t)
            if not nxt or nxt == t:
                break
            t = nxt
        return t

    def field_type(self, struct: str, fname: str) -> str:
        fields = self.structs.get(self.canon(struct))
        return self.canon(fields.get(fname, "")) if fields else ""


class Linker:
    def __init__(self, files: list[FileFacts], arch: str = framework.DEFAULT_ARCH):
        self.files = sorted(files, key=lambda f: f.path)
        self.arch = "arch/" + arch
        self.types = _Types(self.files)
        # merged into self.types, the files' own are read no more: freed
        # before the call graph is built, which reuses their memory
        for facts in self.files:
            facts.structs = {}
            facts.typedefs = {}
        self.funcs = Functions()
        self.statics_of_file: dict[str, dict[str, int]] = {}     # file -> its static functions by name
        self.header_statics: dict[str, list[int]] = defaultdict(list)
        self.global_defs: dict[str, list[int]] = defaultdict(list)
        self.file_facts = {f.path: f for f in self.files}
        self.builds: list[str] = []                  # per function id: build_of its file
        self.file_builds: dict[str, str] = {}
        self.first_function: dict[str, int] = {}     # file -> id of its first function
        self._functions_of_file: tuple[str, dict[str, FuncRef]] = ("", {})   # the last file asked for
        # caller's build -> name -> (definitions, whether they are header statics);
        # nested, not keyed by pairs: the two pair-keyed look-ups, a tuple made
        # for each, were a tenth of linking's samples on a whole tree
        self._linked: dict[str, dict[str, tuple[tuple[int, ...], bool]]] = {}
        self._nearest_cache: dict[tuple[str, str], tuple[int, ...]] = {}
        self._direct_includes: dict[str, set[str]] = {}      # caller file -> headers it includes
        self._headers_by_suffix: dict[str, list[str]] = defaultdict(list)
        for f in self.files:
            if f.path.endswith(".h"):
                parts = f.path.split("/")
                for i in range(len(parts)):
                    self._headers_by_suffix["/".join(parts[i:])].append(f.path)

    # -- indexing ---------------------------------------------------------
    def index(self) -> None:
        for facts in self.files:
            self.first_function[facts.path] = len(self.funcs)
            unit = sys.intern(unit_of(facts.path))
            build = self.file_builds[facts.path] = build_of(facts.path)
            # other files' calls never resolve into code that is not entered
            callable_elsewhere = not tree_relative(facts.path).startswith(framework.NOT_ENTERED_CODE)
            statics: dict[str, int] = {}
            for fn in facts.functions:
                fid = len(self.funcs)
                self.funcs.append(facts.path, unit, fn)
                self.builds.append(build)
                if fn.static:
                    if facts.path.endswith(".h") and callable_elsewhere:
                        self.header_statics[fn.name].append(fid)
                    statics.setdefault(fn.name, fid)
                elif callable_elsewhere:
                    self.global_defs[fn.name].append(fid)
            if statics:
                self.statics_of_file[facts.path] = statics

    def _resolve_include(self, here: str, inc: str) -> list[str]:
        local = os.path.normpath(os.path.join(here, inc)).replace(os.sep, "/")
        if local in self.file_facts:
            return [local]
        return self._headers_by_suffix.get(inc, [])

    def resolve_name(self, name: str, caller_file: str) -> tuple[int, ...]:
        statics = self.statics_of_file.get(caller_file)
        if statics is not None:
            own = statics.get(name)
            if own is not None:
                return (own,)
        build = self.file_builds.get(caller_file)
        if build is None:
            build = self.file_builds[caller_file] = build_of(caller_file)
        linked_in_build = self._linked.get(build)
        if linked_in_build is None:
            linked_in_build = self._linked[build] = {}
        linked = linked_in_build.get(name)
        if linked is None:
            linked = linked_in_build[name] = self._linked_definitions(name, build)
        found, in_headers = linked
        return self._nearest_headers(found, caller_file) if in_headers and len(found) > 1 else found

    def _linked_definitions(self, name: str, build: str) -> tuple[tuple[int, ...], bool]:
        """The non-static definitions of ``name`` that code of ``build`` links,
        else its static ones in headers (True: choose among them by the
        caller's includes); another architecture's only when it links none."""
        for fallback in (False, True):
            found = self._linkable(self.global_defs.get(name, ()), build, fallback)
            if found:
                return found, False
            found = self._linkable(self.header_statics.get(name, ()), build, fallback)
            if found:
                return found, True
        return (), False

    def _linkable(self, defs: list[int], build: str, fallback: bool) -> tuple[int, ...]:
        """The definitions among ``defs`` that code of ``build`` calls; with
        ``fallback``, those of the first other architecture that has any."""
        builds = self.builds
        if not build and all(not builds[d] for d in defs):
            return () if fallback else tuple(defs)    # the common case: common code calling common code
        if not fallback:
            visible = (build,) if build in framework.HOST_DIRS else ("", build or self.arch)
            return tuple(d for d in defs if builds[d] in visible)
        if build:
            return ()      # host programs and architectures fall back on nothing
        arches = {builds[d] for d in defs if builds[d].startswith("arch/")}
        first = min(arches, key=_fallback_rank, default=None)
        return tuple(d for d in defs if builds[d] == first) if first else ()

    def _nearest_headers(self, statics: list[int], caller_file: str) -> tuple[int, ...]:
        """Among same-name header statics: those the caller includes directly,
        else those nearest to it in the tree (longest common directory)."""
        key = (caller_file, self.funcs.fn[statics[0]].name)
        cached = self._nearest_cache.get(key)
        if cached is not None:
            return cached
        direct = self._direct_includes.get(caller_file)
        if direct is None:
            facts = self.file_facts.get(caller_file)
            here = os.path.dirname(caller_file)
            direct = self._direct_includes[caller_file] = {
                h for inc in (facts.includes if facts else ()) for h in self._resolve_include(here, inc)}
        chosen = tuple(fid for fid in statics if self.funcs.file[fid] in direct)
        if not chosen:
            caller_dirs = caller_file.split("/")[:-1]

            def shared(fid: int) -> int:
                n = 0
                for a, b in zip(caller_dirs, self.funcs.file[fid].split("/")[:-1]):
                    if a != b:
                        break
                    n += 1
                return n
            best = max(shared(fid) for fid in statics)
            chosen = tuple(fid for fid in statics if shared(fid) == best)
        self._nearest_cache[key] = chosen
        return chosen

    # -- types ------------------------------------------------------------
    def type_of_chain(self, chain: tuple[str, ...], fref: FuncRef | None, file: str) -> str:
        """Struct type of the object a receiver chain denotes ("" if unknown)."""
        if not chain:
            return ""
        base = chain[0]
        t = ""
        if base.startswith("v:"):
            name = base[2:]
            if fref is not None:
                local = fref.fn.locals.get(name)
                if local:
                    t = local[0]
                else:
                    for pname, ptype in fref.fn.params:
                        if pname == name:
                            t = ptype
                            break
            if not t:
                t = self.file_facts[file].globals.get(name, "") if file in self.file_facts else ""
        elif base.startswith("t:"):
            t = base[2:]
        elif base.startswith("c:"):
            defs = self.resolve_name(base[2:], file)
            if defs:
                t = self.funcs.fn[defs[0]].return_type
        t = self.types.canon(t)
        for fname in chain[1:]:
            if not t:
                return ""
            t = self.types.field_type(t, fname)
        return t

    def member_key(self, expr: str, fref: FuncRef) -> str:
        """`&gpu->retire_work` -> "msm_gpu.retire_work": the struct type that
        holds a member and the member, "" when the type cannot be inferred.
        Names a work item well enough to match a flush with its INIT_WORK."""
        chain = chain_from_text(expr)
        if chain is None or len(chain) < 2:
            return ""
        owner = self.type_of_chain(chain[:-1], fref, fref.file)
        if owner in framework.WORK_TYPES and len(chain) > 2:
            # `&x->dwork.work`: the delayed work member names it
            chain = chain[:-1]
            owner = self.type_of_chain(chain[:-1], fref, fref.file)
        return f"{owner}.{chain[-1]}" if owner else ""

    # -- bindings ---------------------------------------------------------
    def bindings(self) -> Iterator[tuple[str | None, str, Binding, str]]:
        """Every binding as (struct, field, binding, file): struct "" if
        unknown, None if it is to be inferred (``binding_struct``).  Three
        bound names in four are no function (`.mode = MODE_X`): their
        struct is never asked for."""
        for facts in self.files:
            for b in facts.bindings:
                path = b.path
                if not path:
                    continue
                if not b.receiver and len(path) >= 2 and path[-2].endswith("()"):
                    macro = framework.BINDING_MACROS.get(path[-2][:-2])
                    slot = macro.get(int(path[-1])) if macro else None
                    if slot:
                        yield slot[0], slot[1], b, facts.path
                    continue
                yield None, path[-1], b, facts.path
            for c in facts.file_calls:
                macro = framework.DEFINING_MACROS.get(c.callee)
                if not macro:
                    continue
                var = c.args[0] if c.args else ""
                for i, (struct, fname) in macro.items():
                    if i < len(c.args):
                        yield struct, fname, Binding(struct, (fname,), c.args[i].strip(), c.line, var=var), facts.path

    def function_in(self, file: str, name: str) -> FuncRef | None:
        """The definition of ``name`` in ``file`` (the last, if several).
        Asked file by file, so one file's table is kept: a table of the
        whole tree was 700,000 keys made for a few bindings each."""
        known, by_name = self._functions_of_file
        if known != file:
            first = self.first_function.get(file, 0)
            count = len(self.file_facts[file].functions) if file in self.file_facts else 0
            by_name = {self.funcs.fn[fid].name: self.funcs[fid] for fid in range(first, first + count)}
            self._functions_of_file = (file, by_name)
        return by_name.get(name)

    def binding_struct(self, b: Binding, file: str) -> str:
        """The struct type whose field an assignment or initializer binds ("" if unknown)."""
        if b.receiver:      # assignment `x->f = fn`
            return self.type_of_chain(b.receiver, self.function_in(file, b.function), file)
        t = self.types.canon(b.struct)
        for fname in b.path[:-1]:
            if fname == "[]":
                continue
            t = self.types.field_type(t, fname) if t else ""
        return t

    # -- linking ----------------------------------------------------------
    def link(self) -> Program:
        self.index()
        bound: dict[tuple[str, str], list[BoundFunction]] = defaultdict(list)
        by_field: dict[str, list[BoundFunction]] = defaultdict(list)
        array_init: dict[tuple[str, str], list[int]] = defaultdict(list)
        # param_stores[(fid, param index)] -> fields the parameter is stored into (in fid's body)
        param_stores: dict[tuple[int, int], list[str]] = defaultdict(list)
        registrations: list[Registration] = []
        for struct, fname, b, file in self.bindings():
            if _is_test_code(file):
                continue
            targets = self.resolve_name(b.target, file)
            if not targets:
                fref = self.function_in(file, b.function)
                if fref is not None:
                    for i, (pname, _) in enumerate(fref.fn.params):
                        if pname == b.target:
                            param_stores[(fref.id, i)].append(fname)
                continue
            if struct is None:
                struct = self.binding_struct(b, file)
            for fid in targets:
                bf = BoundFunction(fid, struct, fname, file, b.line, b.var)
                bound[(struct, fname)].append(bf)
                by_field[fname].append(bf)
                if b.path[-1] == "[]" and b.var:
                    array_init[(file, b.var)].append(fid)
                kind = framework.REGISTRATION_FIELDS.get((struct, fname))
                if kind is None and not struct and fname == "function":
                    kind = "hrtimer"
                if kind:
                    registrations.append(Registration(fid, kind, "." + fname, file, b.line, fname,
                                                      unit_of(file)))
        # what they bind is in `bound` now: freed before the call graph is
        # built, which then reuses their memory (a fifth of a whole tree's facts)
        for facts in self.files:
            facts.bindings = []

        edges: list[tuple[int, tuple[int, ...]]] = []     # (caller, callees), in the graph's order
        # made in call order, which the walks rely on for their order of visits
        targets: list[CallTargets] = [NO_TARGETS] * len(self.funcs)
        # what the passes after the one over every call add to some calls' targets
        added: dict[int, dict[int, tuple[int, ...]]] = defaultdict(dict)
        # every call by name, in call order (function id, call index, packed),
        # and its callee's position in callee_names, grouped by name once all are met
        sites = array("i")
        name_of_site = array("i")
        callee_names: list[str] = []
        name_position: dict[str, int] = {}
        param_callbacks: list[tuple[int, int, int]] = []   # (fid, call idx, param index)
        field_of_param: list[tuple[int, int, str]] = []
        # INIT_WORK(&q->work, work_func) with work_func a parameter: what callers pass
        param_registrations: list[tuple[FuncRef, int, Call, str, str]] = []

        def bound_in_unit(candidates: list[BoundFunction], unit: str) -> tuple[int, ...]:
            same = [b.fid for b in candidates if self.funcs.unit[b.fid] == unit]
            return tuple(dict.fromkeys(same))

        not_followed = framework.DEFERRAL_APIS | framework.NOT_ENTERED
        hop_names = set(framework.OPS_HOPS) | set(framework.CALLBACK_ARG_HOPS)
        # The same names are called all over a file: resolve each once per file
        # (functions come file by file); a name not followed is marked so.
        resolved_in_file: dict[str, tuple[int, ...] | None] = {}
        file = None
        for fref in self.funcs:
            fn = fref.fn
            if fref.file != file:
                file = fref.file
                resolved_in_file = {}
            fid = fref.id
            pnames = {p: i for i, (p, _) in enumerate(fn.params)}
            out_edges: list[int] = []
            found_by_call: list = []        # (call, its targets, call, its targets, ...)
            calls = fn.calls
            for idx, callee in enumerate(calls.callees()):
                found: tuple[int, ...] = ()
                if callee:
                    at = name_position.get(callee)
                    if at is None:
                        at = name_position[callee] = len(callee_names)
                        callee_names.append(callee)
                    name_of_site.append(at)
                    sites.append(fid)
                    sites.append(idx)
                    if callee in resolved_in_file:
                        found = resolved_in_file[callee]
                    else:
                        found = resolved_in_file[callee] = (
                            None if callee in not_followed else self.resolve_name(callee, file))
                    if found is None:
                        continue
                    if callee in pnames and not fn.locals.get(callee):
                        param_callbacks.append((fid, idx, pnames[callee]))
                        continue
                    if callee in hop_names:
                        found += self._hops(fref, calls[idx], bound)
                else:
                    # a call with no name and no member: a name tree-sitter
                    # recovered as missing (zero width) in a misparse
                    field, receiver, array_name = calls.member(idx) or ("", (), "")
                    if field:
                        t = self.type_of_chain(receiver, fref, fref.file)
                        if t:
                            # the type is known: its own bindings, plus same-unit bindings
                            # whose type could not be inferred; never another type's
                            typed = bound.get((t, field), [])
                            found = bound_in_unit(typed, fref.unit) or tuple(dict.fromkeys(b.fid for b in typed))
                            found += tuple(f for f in bound_in_unit(bound.get(("", field), []), fref.unit)
                                           if f not in found)
                        else:
                            found = bound_in_unit(by_field.get(field, []), fref.unit)
                        if not found:
                            field_of_param.append((fid, idx, field))
                    elif array_name:
                        found = tuple(dict.fromkeys(array_init.get((fref.file, array_name), ())))
                if found:
                    found_by_call += (idx, found)
                    out_edges.extend(found)
            if found_by_call:
                targets[fid] = CallTargets(found_by_call)
            # each target once (a function calls the same ones over and over), in call order
            if out_edges:
                edges.append((fid, tuple(dict.fromkeys(out_edges))))

        del name_position
        callers_by_name = CallSitesByName(callee_names, name_of_site, sites)
        del name_of_site, sites

        # Functions registered to run later by a call (INIT_WORK, request_irq...)
        for fid, idx in _sites_of(callers_by_name, framework.REGISTRATIONS):
            fref = self.funcs[fid]
            if _is_test_code(fref.file):
                continue
            c = fref.fn.calls[idx]
            fn_arg, obj_arg, kind = framework.REGISTRATIONS[c.callee]
            pnames = {p: i for i, (p, _) in enumerate(fref.fn.params)}
            for arg_i in (fn_arg,) + framework.REGISTRATION_EXTRA_ARGS.get(c.callee, ()):
                if arg_i >= len(c.args):
                    continue
                name = c.args[arg_i].lstrip("&").strip()
                obj_field = ""
                if obj_arg is not None and obj_arg < len(c.args):
                    obj_field = self.member_key(c.args[obj_arg], fref)
                found = self.resolve_name(name, fref.file)
                if not found and name in pnames:
                    param_registrations.append((fref, pnames[name], c, kind, obj_field))
                for reg_fid in found:
                    registrations.append(Registration(reg_fid, kind, c.callee, fref.file, c.line, obj_field,
                                                      fref.unit))

        # Function-pointer parameters: `void run(void (*fn)(x)) { fn(x); }`.  Which
        # function runs depends on the caller (kref_put has thousands), so the
        # reachability walk resolves these per call path (Program.param_calls);
        # the graph gets every candidate, for the "may reach" over-approximation.
        param_calls: dict[tuple[int, int], int] = {}
        passed_to_params: dict[int, tuple[int, ...]] = {}   # function id -> candidates of its parameter calls
        for fid, idx, pidx in param_callbacks:
            param_calls[(fid, idx)] = pidx
            candidates = self._functions_passed(fid, pidx, callers_by_name)
            passed_to_params[fid] = passed_to_params.get(fid, ()) + candidates
            edges.append((fid, candidates))
        for fref, pidx, c, kind, obj_field in param_registrations:
            for fid in self._functions_passed(fref.id, pidx, callers_by_name):
                registrations.append(Registration(fid, kind, c.callee, fref.file, c.line, obj_field, fref.unit))
        # A parameter stored into a field, called later through that field.
        # Only the fields some call goes through are worth searching the callers
        # for: a whole tree stores parameters into fields 58,000 times, and calls
        # through few of those fields (1.5 s of linking saved).
        called_fields = {(self.funcs.unit[fid], fname) for fid, _, fname in field_of_param}
        stored_fields: dict[tuple[str, str], set[int]] = defaultdict(set)
        for (fid, pidx), stored_in in param_stores.items():
            unit = self.funcs.unit[fid]
            called = [fname for fname in stored_in if (unit, fname) in called_fields]
            if called:
                for fn_id in self._functions_passed(fid, pidx, callers_by_name):
                    for fname in called:
                        stored_fields[(unit, fname)].add(fn_id)
        for fid, idx, fname in field_of_param:
            passed = tuple(sorted(stored_fields.get((self.funcs.unit[fid], fname), ())))
            if passed:
                added[fid][idx] = passed
                edges.append((fid, passed))

        # Waiting for a work item runs its function (flush_work & co).
        work_by_field: dict[tuple[str, str], list[int]] = defaultdict(list)
        for r in registrations:
            if r.obj_field:
                work_by_field[(r.unit, r.obj_field)].append(r.fid)
        for fid, idx in _sites_of(callers_by_name, framework.WORK_WAIT_HOPS):
            fref = self.funcs[fid]
            c = fref.fn.calls[idx]
            arg_i = framework.WORK_WAIT_HOPS[c.callee]
            if arg_i >= len(c.args):
                continue
            key = self.member_key(c.args[arg_i], fref)
            found = tuple(dict.fromkeys(work_by_field.get((fref.unit, key), ()))) if key else ()
            if found:
                added[fid][idx] = added[fid].get(idx, targets[fid].get(idx, ())) + found
                edges.append((fid, found))
        for fid, extra in added.items():
            merged = dict(targets[fid].items())
            merged.update(extra)
            targets[fid] = CallTargets.of(merged)
        program = Program(self.funcs, _call_graph(targets, passed_to_params, edges), targets, dict(bound), registrations,
                          callers_by_name, param_calls, self.file_facts,
                          self.resolve_name, self.type_of_chain)
        # The program keeps this linker for its few later look-ups (resolve,
        # type_of), which need none of the memos of the millions made while
        # linking: on a whole tree 100 MB the analysis can use.
        self._linked = {}
        self._nearest_cache = {}
        return program

    def _hops(self, fref: FuncRef, c: Call, bound) -> tuple[int, ...]:
        found: list[int] = []
        for struct, fname in framework.OPS_HOPS.get(c.callee, ()):
            for b in bound.get((struct, fname), ()):
                if self.funcs.unit[b.fid] == fref.unit:
                    found.append(b.fid)
        for arg_i in framework.CALLBACK_ARG_HOPS.get(c.callee, ()):
            if arg_i < len(c.args):
                found.extend(self.resolve_name(c.args[arg_i].lstrip("&").strip(), fref.file))
        return tuple(dict.fromkeys(found))

    def _functions_passed(self, fid: int, pidx: int, callers_by_name, seen=None) -> tuple[int, ...]:
        """Functions callers pass for parameter ``pidx`` of ``fid``.  A caller that
        passes on a parameter of its own is followed to its callers, at most
        MAX_PASSED_ON levels (virtio: the callback named in a command builder,
        passed on twice, stored as vbuf->resp_cb)."""
        seen = set() if seen is None else seen
        if (fid, pidx) in seen or len(seen) > MAX_PASSED_ON:
            return ()
        seen.add((fid, pidx))
        fref = self.funcs[fid]
        out: list[int] = []
        for caller, idx in callers_by_name.get(fref.fn.name, ()):
            cfn = self.funcs.fn[caller]
            args = cfn.calls.args(idx)
            if pidx < len(args) and fid in self.resolve_name(cfn.calls.callee(idx), self.funcs.file[caller]):
                name = args[pidx].lstrip("&").strip()
                if not name.isidentifier():
                    continue
                found = self.resolve_name(name, self.funcs.file[caller])
                if not found:
                    own = next((i for i, (p, _) in enumerate(cfn.params) if p == name), None)
                    if own is not None:
                        found = self._functions_passed(caller, own, callers_by_name, seen)
                out.extend(found)
        return tuple(dict.fromkeys(out))


MAX_PASSED_ON = 4
_PLAIN_CHAIN = re.compile(r"^[A-Za-z_]\w*(?:\[[^\]]*\])?(?:\s*(?:->|\.)\s*[A-Za-z_]\w*(?:\[[^\]]*\])?)*$")
_CALL_BASE = re.compile(r"^([A-Za-z_]\w*)\s*\([^()]*\)((?:\s*(?:->|\.)\s*[A-Za-z_]\w*)+)$")
_SPLIT = re.compile(r"\s*(?:->|\.)\s*")
_SUBSCRIPT = re.compile(r"\[.*\]$")


@functools.lru_cache(maxsize=1 << 16)    # the same lock and object expressions recur all over a tree
def chain_from_text(text: str) -> tuple[str, ...] | None:
    """`&submit->queue->idr_lock` -> ("v:submit", "queue", "idr_lock")."""
    t = text.strip()
    while t.startswith(("&", "(")) and (t[0] == "&" or t.endswith(")")):
        t = t[1:].strip() if t[0] == "&" else t[1:-1].strip()
    m = _CALL_BASE.match(t)
    if m:
        return ("c:" + m.group(1),) + tuple(p for p in _SPLIT.split(m.group(2)) if p)
    if not _PLAIN_CHAIN.match(t):
        return None
    parts = [_SUBSCRIPT.sub("", p) for p in _SPLIT.split(t)]
    return ("v:" + parts[0],) + tuple(parts[1:])


def _sites_of(callers_by_name: CallSitesByName, names) -> list[tuple[int, int]]:
    """Every call of one of ``names``, as (function id, call index), in call
    order: the few calls a pass needs, without a pass over every call."""
    return sorted(site for name in names for site in callers_by_name.get(name, ()))


@functools.lru_cache(maxsize=None)     # asked once per binding: a million times, for 50,000 files
def _is_test_code(path: str) -> bool:
    name = "/" + path
    return any(marker in name for marker in framework.TEST_CODE)


def link(files: list[FileFacts], arch: str = framework.DEFAULT_ARCH) -> Program:
    """The program of ``files``, whose bindings, struct fields and typedefs
    it consumes: what they say is in the program (``bound``, its merged
    types), and they are freed as soon as read, so that the call graph
    reuses their memory rather than adding to the scan's peak."""
    return Linker(files, arch).link()
