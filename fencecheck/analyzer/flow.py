"""Control-flow questions answered on a function's skeleton (see facts.py).

* ``calls_in_scope``: which calls run while a scope opened by one call and
  closed by another is open (signalling sections, noreclaim scopes, the
  publish window).  A scope ends on every path that leaves it: a branch that
  closes it and returns does not close it for the code after the branch.
* ``always_reaches``: whether every normal path through the body passes a
  call for which a predicate holds (early error returns are not counted:
  ``if (!p) return -ENOMEM;`` does not make an allocation optional).
* ``calls_before``: which calls may run before a call for which a predicate
  holds (in a loop holding one, every call of the loop: the next iteration's
  comes after them).

Both walks are iterative over sibling items and recursive only over nesting,
which extraction bounds (extract.MAX_DEPTH).  Each recursive ``seq`` calls
itself through its closure, a reference cycle: the name is cleared when its
walk ends, since a scan runs with the cyclic GC off (pipeline.scan), which would
never free it nor what it holds (the predicates, their locals; on the whole
tree a million objects).
"""
from __future__ import annotations

from typing import Callable, Container

Predicate = Callable[[int], bool]


def calls_in_scope(body: list, opens: Predicate, closes: Predicate) -> set[int]:
    inside: set[int] = set()
    pending_labels: dict[str, int] = {}

    def seq(items: list, depth: int | None) -> int | None:
        """Walk items from scope depth ``depth``; None means the path has exited."""
        for item in items:
            if isinstance(item, int):
                if depth is None:
                    continue
                if depth > 0:
                    inside.add(item)
                if opens(item):
                    depth += 1
                elif closes(item) and depth > 0:
                    depth -= 1
                continue
            kind = item[0]
            if kind == "label":
                label_depth = pending_labels.get(item[1], 0)
                depth = label_depth if depth is None else max(depth, label_depth)
                continue
            if depth is None:
                # unreachable code: still look for labels inside it
                for sub in _children(item):
                    seq(sub, None)
                continue
            if kind == "block":
                depth = seq(item[1], depth)
            elif kind == "if":
                a = seq(item[1], depth)
                b = seq(item[2], depth) if item[2] is not None else depth
                depth = None if a is None and b is None else max(x for x in (a, b) if x is not None)
            elif kind in ("loop", "switch", "cond"):
                after = seq(item[1], depth)
                if kind == "loop" and after is not None and after != depth:
                    after = seq(item[1], max(depth, after))   # second pass: state carried round the loop
                depth = depth if after is None else max(depth, after)
            elif kind == "do":
                after = seq(item[1], depth)
                depth = depth if after is None else after
            elif kind == "ret":
                depth = None
            elif kind == "goto":
                pending_labels[item[1]] = max(pending_labels.get(item[1], 0), depth)
                depth = None
            # break / continue: treated as falling through (loop bodies are joined anyway)
        return depth

    try:
        seq(body, 0)
    finally:
        seq = None
    return inside


def calls_before(body: list, hit: Predicate) -> set[int]:
    before: set[int] = set()

    def seq(items: list, later: bool) -> bool:
        """Collect from items, given whether a hit may follow them; True if they hold one."""
        found = False
        for item in reversed(items):
            if isinstance(item, int):
                if hit(item):
                    found = later = True
                if later:
                    before.add(item)
                continue
            held = False
            for sub in _children(item):
                held |= seq(sub, later)
            if held and item[0] in ("loop", "do") and not later:
                seq(item[1], True)
            if held:
                found = later = True
        return found

    try:
        seq(body, False)
    finally:
        seq = None
    return before


def always_reaches(body: list, hit: Predicate) -> int | None:
    """The first call (in source order) that every normal path reaches, or None."""

    def seq(items: list) -> tuple[int | None, bool]:
        """(witness call, exits) for a sequence of items."""
        for item in items:
            if isinstance(item, int):
                if hit(item):
                    return item, False
                continue
            kind = item[0]
            if kind in ("block", "do"):
                w, exits = seq(item[1])
                if w is not None or exits:
                    return w, exits
            elif kind == "if":
                if item[2] is None:
                    continue
                wa, ea = seq(item[1])
                wb, eb = seq(item[2])
                if (wa is not None or ea) and (wb is not None or eb) and (wa is not None or wb is not None):
                    return (wa if wa is not None else wb), False
                if ea and eb:
                    return None, True
            elif kind in ("ret", "goto"):
                return None, True
        return None, False

    try:
        return seq(body)[0]
    finally:
        seq = None


def held_at_calls(body: list, acquires: Callable[[int], str | None], releases: Callable[[int], str | None],
                  scoped: Callable[[int], tuple[str, bool] | None], watched: Container[int] | None = None
                  ) -> tuple[dict[int, frozenset[str]], frozenset[str]]:
    """Locks that may be held at each call (union over paths), and at return.

    ``acquires(i)``/``releases(i)`` give the lock class a call takes or drops;
    ``scoped(i)`` gives (class, covers_next_block) for ``guard(...)(&l)``
    (held to the end of the enclosing block) and ``scoped_guard(..., &l) {}``
    (held in the block that follows).  A branch that unlocks and returns does
    not unlock for the code after it.  ``watched``, if given, holds every call
    for which one of them may answer: the others are not asked.
    """
    held_at: dict[int, frozenset[str]] = {}
    labels: dict[str, frozenset[str]] = {}

    def seq(items: list, held: frozenset[str] | None) -> frozenset[str] | None:
        block_guards: set[str] = set()
        pending_scope: str | None = None
        for item in items:
            if isinstance(item, int):
                if held is None:
                    continue
                if held:
                    held_at[item] = held
                if watched is not None and item not in watched:
                    continue
                got = acquires(item)
                if got:
                    held = held | {got}
                    continue
                dropped = releases(item)
                if dropped:
                    held = held - {dropped}
                    continue
                sc = scoped(item)
                if sc:
                    cls, next_block = sc
                    if next_block:
                        pending_scope = cls
                    elif cls not in held:
                        block_guards.add(cls)
                        held = held | {cls}
                continue
            kind = item[0]
            if kind == "label":
                at_label = labels.get(item[1], frozenset())
                held = at_label if held is None else held | at_label
                continue
            if held is None:
                for sub in _children(item):
                    seq(sub, None)
                continue
            if kind == "block":
                inner = held | {pending_scope} if pending_scope else held
                after = seq(item[1], inner)
                if pending_scope and after is not None:
                    after = after - {pending_scope} if pending_scope not in held else after
                pending_scope = None
                held = after
            elif kind == "if":
                a = seq(item[1], held)
                b = seq(item[2], held) if item[2] is not None else held
                held = None if a is None and b is None else (a or frozenset()) | (b or frozenset())
            elif kind in ("loop", "switch", "cond"):
                after = seq(item[1], held)
                if kind == "loop" and after is not None and after != held:
                    after = seq(item[1], held | after)
                held = held if after is None else held | after
            elif kind == "do":
                after = seq(item[1], held)
                held = held if after is None else after
            elif kind == "ret":
                exits.append(held - block_guards)
                held = None
            elif kind == "goto":
                labels[item[1]] = labels.get(item[1], frozenset()) | held
                held = None
        if held is not None and block_guards:
            held = held - block_guards
        return held

    exits: list[frozenset[str]] = []
    try:
        end = seq(body, frozenset())
    finally:
        seq = None
    return held_at, frozenset().union(*exits, end or frozenset())


def _children(item: list) -> list[list]:
    if item[0] in ("block", "loop", "do", "switch", "cond"):
        return [item[1]]
    if item[0] == "if":
        return [item[1], item[2] or []]
    return []
