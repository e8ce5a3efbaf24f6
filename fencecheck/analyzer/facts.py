"""Plain per-file facts produced by extraction and consumed by linking.

Everything here is rule-independent, so a file's facts can be cached by the
hash of its content alone.  A function body is kept as a *skeleton*: the order
of its calls and the control structure around them (branches, loops, exits),
from which scopes (signalling sections, noreclaim scopes, held locks) and
"always reaches" summaries are computed later with the rules' own data.

Skeleton items (nested lists, marshal/pickle friendly):
  int                      index into Function.calls
  ["block", items]         a nested compound statement (ends scoped guards)
  ["if", then, else]       else may be None
  ["loop", items]          for / while body: may run zero times
  ["do", items]            do/while body: runs at least once
  ["switch", items]
  ["cond", items]          ?: operands, right side of && and ||
  ["ret"] ["break"] ["continue"] ["goto", label] ["label", name]
"""
from __future__ import annotations

import marshal
import struct
from dataclasses import dataclass, field
from itertools import islice
from sys import intern
from typing import ClassVar


@dataclass(slots=True)
class Call:
    """One call site.

    Direct calls carry ``callee``.  Calls through a struct field carry
    ``field`` and ``receiver``: the access chain of the object the field is
    read from, as a tuple whose first element describes the base
    (``v:name`` variable, ``c:func`` return value of a call, ``t:type`` a cast
    or container_of, ``?`` unknown) followed by field names.  Calls through an
    array of function pointers carry ``array``.  Those two are MemberCalls
    (``Call.of`` picks the class): a direct call reads their three fields as
    class attributes, with no slot for them: all but 1% of a whole tree's 4.2
    million calls are direct.  Decoded facts hold none of these: ``Calls``
    makes them when asked.
    """
    callee: str
    line: int
    col: int            # 0-based byte column of the call expression
    args: tuple[str, ...] = ()
    field: ClassVar[str] = ""
    receiver: ClassVar[tuple[str, ...]] = ()
    array: ClassVar[str] = ""

    @staticmethod
    def of(callee: str, line: int, col: int, args: tuple[str, ...] = (), field: str = "",
           receiver: tuple[str, ...] = (), array: str = "") -> "Call":
        if field or receiver or array:
            return MemberCall(callee, line, col, args, field, receiver, array)
        return Call(callee, line, col, args)


@dataclass(slots=True)
class MemberCall(Call):
    """A call through a struct field or an array of function pointers."""
    field: str = ""
    receiver: tuple[str, ...] = ()
    array: str = ""


@dataclass(slots=True)
class Binding:
    """A function (``target``) stored in a struct field or table slot.

    ``struct`` is the declared type of the initialised object ("" when the
    binding comes from an assignment whose receiver type must be inferred from
    ``receiver``); ``path`` is the designator path, e.g. ("base", "hw_init"),
    ("[]",) for arrays of function pointers, or ("SET_RUNTIME_PM_OPS()", "1")
    for the n-th argument of a binding macro inside an initializer.
    ``function`` names the enclosing function for assignments ("" at file scope).
    """
    struct: str
    path: tuple[str, ...]
    target: str
    line: int
    var: str = ""
    receiver: tuple[str, ...] = ()
    function: str = ""


class FlatDict(tuple):
    """A small frozen dict as one flat tuple (key, value, key, value, ...),
    read like the dict: ``get``, ``[key]``, ``in``, ``len``, iteration,
    ``keys``, ``values`` and ``items``.  A dict per function costs a whole
    tree over twice the memory.  No key may equal a value (the subclasses'
    keys are names or ints, their values tuples): a key is then found by one
    scan of the tuple, in C."""
    __slots__ = ()

    def keys(self) -> tuple:
        return tuple.__getitem__(self, slice(0, None, 2))

    def values(self) -> tuple:
        return tuple.__getitem__(self, slice(1, None, 2))

    def items(self):
        # one iterator read twice a step: (key, value) pairs, nothing copied
        flat = tuple.__iter__(self)
        return zip(flat, flat)

    def get(self, key, default=None):
        try:
            return tuple.__getitem__(self, tuple.index(self, key) + 1)
        except ValueError:
            return default

    def __getitem__(self, key):
        found = self.get(key, _ABSENT)
        if found is _ABSENT:
            raise KeyError(key)
        return found

    def __contains__(self, key) -> bool:
        return tuple.__contains__(self, key)

    def __len__(self) -> int:
        return tuple.__len__(self) >> 1

    def __iter__(self):
        return islice(tuple.__iter__(self), 0, None, 2)


_ABSENT = object()      # what FlatDict[key] asks get() for: no value is it


class Locals(FlatDict):
    """A function's local variables, name -> (type, initializer text), once
    decoded (how ``encode`` writes them): a dict per function took 118 MB of
    a whole tree's facts, these 49 MB, and the third of its functions that
    have none share one."""
    __slots__ = ()


NO_LOCALS = Locals()


class Calls(tuple):
    """A decoded function's calls, read like the tuple of ``Call`` they
    were: ``len``, ``[i]`` and iteration make each Call when asked.  One
    flat tuple, (positions, members, callee, args, callee, args, ...):
    positions is bytes of (line, col) pairs, little-endian uint32; members
    the (field, receiver, array) of each call through a struct field or an
    array (1% of all, by call index; None when there are none); args the
    call's argument texts joined by ARG_SEPARATOR, one interned string.  A
    Call object each made a whole tree's 4.2 million calls 313 MB, these
    are 157 MB.  What the analysis reads of every call, its callee and its
    arguments, ``callee(i)``, ``callees()`` and ``args(i)`` read without
    making a Call."""
    __slots__ = ()

    def __len__(self) -> int:
        return (tuple.__len__(self) - 2) >> 1

    def __getitem__(self, i: int) -> Call:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("call index out of range")
        line, col = _POSITION.unpack_from(tuple.__getitem__(self, 0), 8 * i)
        member = self.member(i)
        callee, args = tuple.__getitem__(self, 2 + 2 * i), self.args(i)
        return Call(callee, line, col, args) if member is None else MemberCall(callee, line, col, args, *member)

    def __iter__(self):
        return map(self.__getitem__, range(len(self)))

    def __reversed__(self):
        return map(self.__getitem__, range(len(self) - 1, -1, -1))

    def callee(self, i: int) -> str:
        return tuple.__getitem__(self, 2 + 2 * i)

    def args(self, i: int) -> tuple[str, ...]:
        joined = tuple.__getitem__(self, 3 + 2 * i)
        return tuple(joined.split(ARG_SEPARATOR)) if joined else ()

    def callees(self) -> tuple[str, ...]:
        """Every call's callee, in call order ("" for calls through a field or an array)."""
        return tuple.__getitem__(self, slice(2, None, 2))

    def member(self, i: int) -> tuple[str, tuple[str, ...], str] | None:
        """(field, receiver, array) of a call through a struct field or an array."""
        members = tuple.__getitem__(self, 1)
        return members.get(i) if members else None


_POSITION = struct.Struct("<II")
# Between a call's argument texts, as Calls keeps them: no C source text
# holds it (an argument that does has it written as a space).  One string
# per argument list, interned, is a whole tree's 1.9 million distinct lists
# in 166 MB; tuples of interned strings were 275 MB.  A call whose one
# argument is empty (a parser's MISSING node) reads as one with none.
ARG_SEPARATOR = "\0"
NO_CALLS = Calls((b"", None))


@dataclass(slots=True)
class Function:
    name: str
    line: int
    end_line: int
    col: int
    static: bool
    inline: bool
    return_type: str
    params: tuple[tuple[str, str], ...]          # (name, type name)
    # name -> (type, initializer text): a dict while extracting, Locals once decoded
    locals: dict[str, tuple[str, str]] | Locals = field(default_factory=dict)
    # a list while extracting, Calls once decoded
    calls: list[Call] | Calls = field(default_factory=list)
    # skeleton, see module doc; decoded facts keep it marshalled (skeleton() reads it)
    body: list | bytes = field(default_factory=list)

    def skeleton(self) -> list:
        """The body's skeleton.  Decoded facts hold it as marshalled bytes,
        read anew on each call and never kept: a fifth of the functions are
        ever asked for theirs (those with a lock, a sink or a scope of their
        own), and all skeletons as lists are a fifth of a whole tree's facts."""
        return marshal.loads(self.body) if isinstance(self.body, bytes) else self.body


@dataclass(slots=True)
class FileFacts:
    path: str                                    # root-relative, '/'-separated
    functions: list[Function] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    structs: dict[str, dict[str, str]] = field(default_factory=dict)   # struct -> field -> type
    typedefs: dict[str, str] = field(default_factory=dict)
    globals: dict[str, str] = field(default_factory=dict)              # file-scope variable -> type
    # calls at file scope (DEFINE_* macros): a list while extracting, Calls once decoded
    file_calls: list[Call] | Calls = field(default_factory=list)
    includes: tuple[str, ...] = ()
    error_lines: int = 0                         # lines covered by tree-sitter ERROR nodes
    lines: int = 0


# -- compact encoding (worker -> parent transfer and the on-disk cache) ------
# Plain tuples of str/int/bytes/list only, so marshal can write and read them
# fast.  The words that repeat across a tree (callee names, arguments, names
# and types of parameters, locals, struct fields and globals, binding
# targets, included headers) are interned: marshal keeps them interned
# through the worker transfer and the cache, so a whole tree holds one
# "GFP_KERNEL", not a hundred thousand; a call's arguments are one such
# string (Calls).  Equal parameter lists and locals of one file are one
# tuple, which marshal writes once and reads back as one object: that
# halves what they take in a whole tree's decoded facts.  A function's
# calls are one tuple, read in place by Calls.  A function's skeleton is
# marshalled on its own, so loading facts builds none of the lists until
# Function.skeleton() asks; equal skeletons are one bytes object across
# the files decoded together.

class SharedValues(dict):
    """``shared[v]`` is the first value equal to ``v`` it was asked for."""
    __slots__ = ()

    def __missing__(self, value):
        self[value] = value
        return value


def _calls(calls: list[Call] | Calls) -> tuple:
    """A function's (or a file scope's) calls as the tuple Calls is (see there)."""
    positions = struct.pack(f"<{2 * len(calls)}I", *[n for c in calls for n in (c.line, c.col)])
    members = {i: (intern(c.field), tuple(map(intern, c.receiver)), intern(c.array))
               for i, c in enumerate(calls) if c.field or c.receiver or c.array}
    return (positions, members or None) + tuple(
        x for c in calls for x in (intern(c.callee), intern(_joined(c.args))))


def _joined(args: tuple[str, ...]) -> str:
    joined = ARG_SEPARATOR.join(args)
    if joined.count(ARG_SEPARATOR) != max(len(args) - 1, 0):
        joined = ARG_SEPARATOR.join(a.replace(ARG_SEPARATOR, " ") for a in args)
    return joined


def _interned(names: dict[str, str]) -> dict[str, str]:
    return {intern(k): intern(v) for k, v in names.items()}


def encode(f: FileFacts) -> tuple:
    s = SharedValues()
    return (
        f.path,
        [(intern(fn.name), fn.line, fn.end_line, fn.col, fn.static, fn.inline, intern(fn.return_type),
          s[tuple(s[(intern(p), intern(t))] for p, t in fn.params)],
          tuple(x for k, (t, init) in fn.locals.items() for x in (intern(k), s[(intern(t), init)])),
          _calls(fn.calls), marshal.dumps(fn.body) if isinstance(fn.body, list) else fn.body)
         for fn in f.functions],
        [(intern(b.struct), tuple(map(intern, b.path)), intern(b.target), b.line, intern(b.var),
          tuple(map(intern, b.receiver)), intern(b.function)) for b in f.bindings],
        {intern(name): _interned(fields) for name, fields in f.structs.items()},
        _interned(f.typedefs), _interned(f.globals),
        _calls(f.file_calls),
        tuple(map(intern, f.includes)), f.error_lines, f.lines,
    )


def decode(t: tuple, skeletons: SharedValues | None = None) -> FileFacts:
    """``skeletons``: those of the files decoded before, shared with them (a
    third of a whole tree's 710,000 skeletons are distinct: `{ return x; }`
    and its like are everywhere)."""
    skeletons = SharedValues() if skeletons is None else skeletons
    path, functions, bindings, structs, typedefs, globals_, file_calls, includes, error_lines, lines = t
    return FileFacts(
        path=path,
        functions=[Function(name, line, end_line, col, static, inline, ret, params,
                            Locals(locals_) if locals_ else NO_LOCALS,
                            Calls(calls) if len(calls) > 2 else NO_CALLS, skeletons[body])
                   for name, line, end_line, col, static, inline, ret, params, locals_, calls, body in functions],
        bindings=[Binding(*b) for b in bindings],
        structs=structs, typedefs=typedefs, globals=globals_,
        file_calls=Calls(file_calls) if len(file_calls) > 2 else NO_CALLS, includes=tuple(includes),
        error_lines=error_lines, lines=lines)
