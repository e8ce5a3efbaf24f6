"""pycparser as an oracle for the tree-sitter extractor.

pycparser parses standard C exactly.  For every fixture (preprocessed by
``gcc -E`` against the stub headers in tests/oracle_stubs, whose line markers
map each node back to the fixture) and for generated valid C programs, the
function definitions and call sites pycparser sees must equal what
``extract_source`` reports on the original text.  A disagreement fails.

Compared, per file:
* definitions: (name, line of the start of the definition, static, inline,
  return type name, ((param name, param type name), ...));
* call sites: (enclosing function, kind, callee, receiver, line, argument count)
  where kind is "call" (plain identifier, also through ``(*fp)``; ``guard(x)(y)``
  reports ``guard`` and ``guard()``), "field" (``s->ops->fn()``, compared by
  field name and receiver chain) or "array" (``fns[i]()``).  Generated programs
  also compare the column of the call.  Operands of ``sizeof`` are not evaluated
  and hold no call sites; calls at file scope are not compared.

FENCECHECK_FUZZ_EXAMPLES raises the example count of the generated part.
"""
from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycparser import c_ast, c_parser

from fencecheck.analyzer.extract import extract_source

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUBS = os.path.join(REPO, "tests", "oracle_stubs")
FIXTURE_ROOT = os.path.join(REPO, "fixtures")
FIXTURES = sorted(glob.glob(os.path.join(FIXTURE_ROOT, "**", "*.[ch]"), recursive=True))
EXAMPLES = int(os.environ.get("FENCECHECK_FUZZ_EXAMPLES", "60"))
GCC = shutil.which("gcc")
needs_gcc = pytest.mark.skipif(GCC is None, reason="gcc is not on PATH: the fixtures are preprocessed with gcc -E")

# Macros to define when preprocessing a fixture.  The extractor keeps only the
# first branch of a conditional group whose branches do not balance braces
# (fakeidiom's `#ifdef CONFIG_... if (a && b) { #else if (a) { #endif`), so the
# oracle must preprocess that branch.
DEFINES = {
    "drivers/gpu/drm/fakeidiom/fakeidiom_job.c": ["CONFIG_DRM_FAKEIDIOM_TRACE"],
}

# Fixtures left out of the comparison: none.  (GNU `a ?: b`, which pycparser
# cannot parse, is rewritten to `a ? 0 : b` in the preprocessed copy only: the
# omitted operand holds no call site.)
EXCLUDED: dict[str, str] = {}


class ExtractorBug(AssertionError):
    """The comparison failed exactly as a known extractor bug predicts."""


# Known extractor bugs, by fixture: the exact disagreement they cause.  A test
# listed here must fail with exactly this diff (xfail strict): any other
# disagreement, or none, fails the test.
S32_CAST = ("tree-sitter parses the cast `(s32)(expr)` as a call of `s32` (it cannot know s32 is a "
            "typedef) and the extractor reports a call site `s32` that does not exist")
KNOWN_BUGS: dict[str, tuple[str, dict]] = {
    "drivers/gpu/drm/fakefence/fakefence_fence.c": (S32_CAST, {
        "extractor_only": [("fakefence_signaled", "call", "s32", (), 75, 1)], "oracle_only": []}),
    "drivers/gpu/drm/fakefence/fakefence_ring.c": (S32_CAST, {
        "extractor_only": [("fakefence_retire", "call", "s32", (), 56, 1),
                           ("fakefence_wait_ioctl", "call", "s32", (), 145, 1)], "oracle_only": []}),
}


# -- the oracle: pycparser's view ---------------------------------------------

def _type_name(node) -> str:
    """Innermost type specifier: struct/union/enum tag, typedef or primitive."""
    while isinstance(node, (c_ast.Decl, c_ast.Typename, c_ast.TypeDecl, c_ast.PtrDecl,
                            c_ast.ArrayDecl, c_ast.FuncDecl)):
        node = node.type
    if isinstance(node, (c_ast.Struct, c_ast.Union, c_ast.Enum)):
        return node.name or ""
    if isinstance(node, c_ast.IdentifierType):
        return " ".join(node.names)
    return ""


def _innermost(node):
    while isinstance(node, (c_ast.Decl, c_ast.Typename, c_ast.TypeDecl, c_ast.PtrDecl,
                            c_ast.ArrayDecl, c_ast.FuncDecl)):
        node = node.type
    return node


def _receiver(node) -> tuple[str, ...]:
    """The object a field is read from, as (base, field, ...) like extract.receiver_chain."""
    fields: list[str] = []
    for _ in range(64):
        if isinstance(node, c_ast.StructRef):
            fields.append(node.field.name)
            node = node.name
        elif isinstance(node, c_ast.UnaryOp) and node.op in ("*", "&"):
            node = node.expr
        elif isinstance(node, c_ast.ArrayRef):
            node = node.name
        elif isinstance(node, c_ast.Cast):
            tn = _type_name(node.to_type)
            return (("t:" + tn) if tn else "?",) + tuple(reversed(fields))
        elif isinstance(node, c_ast.ID):
            return ("v:" + node.name,) + tuple(reversed(fields))
        elif isinstance(node, c_ast.FuncCall) and isinstance(node.name, c_ast.ID):
            return ("c:" + node.name.name,) + tuple(reversed(fields))
        else:
            break
    return ("?",) + tuple(reversed(fields))


def _callee(node):
    """(kind, name, receiver) of what a call expression calls, or None."""
    while isinstance(node, c_ast.UnaryOp) and node.op in ("*", "&"):     # (*fp)(x)
        node = node.expr
    if isinstance(node, c_ast.ID):
        return "call", node.name, ()
    if isinstance(node, c_ast.StructRef):
        return "field", node.field.name, _receiver(node.name)
    if isinstance(node, c_ast.ArrayRef):
        if isinstance(node.name, c_ast.ID):
            return "array", node.name.name, ()
        if isinstance(node.name, c_ast.StructRef):
            return "field", node.name.field.name, _receiver(node.name.name)
        return None
    if isinstance(node, c_ast.FuncCall) and isinstance(node.name, c_ast.ID):  # guard(x)(y)
        return "call", node.name.name + "()", ()
    return None


def _params(funcdecl) -> tuple[tuple[str, str], ...]:
    out = []
    for p in (funcdecl.args.params if funcdecl.args is not None else ()):
        if isinstance(p, c_ast.EllipsisParam):
            continue
        out.append((p.name or "" if isinstance(p, c_ast.Decl) else "", _type_name(p)))
    return tuple(out)


class _Oracle(c_ast.NodeVisitor):
    def __init__(self, filename: str):
        self.filename = filename
        self.functions: list[tuple] = []
        self.calls: list[tuple] = []     # (function, kind, callee, receiver, line, nargs, coord)
        self.func: str | None = None

    def mine(self, coord) -> bool:
        return coord is not None and coord.file == self.filename

    def visit_FuncDef(self, node):
        if not self.mine(node.coord):
            return                       # a static inline of an included header
        decl = node.decl
        spec = _innermost(decl.type)
        line = node.coord.line
        if self.mine(getattr(spec, "coord", None)):
            line = min(line, spec.coord.line)   # `static int\nname(...)` starts at the type
        self.functions.append((decl.name, line, "static" in decl.storage, "inline" in decl.funcspec,
                               _type_name(decl.type), _params(decl.type)))
        self.func = decl.name
        self.visit(node.body)
        self.func = None

    def visit_UnaryOp(self, node):
        if node.op == "sizeof":
            return                       # not evaluated: no call site
        self.generic_visit(node)

    def visit_FuncCall(self, node):
        if self.func is not None and self.mine(node.coord):
            target = _callee(node.name)
            if target is not None:
                nargs = len(node.args.exprs) if node.args is not None else 0
                self.calls.append((self.func, *target, node.coord.line, nargs, node.coord))
        self.generic_visit(node)


def oracle_view(text: str, filename: str) -> _Oracle:
    ast = c_parser.CParser().parse(text, filename)
    v = _Oracle(filename)
    v.visit(ast)
    return v


def extractor_view(facts):
    functions = [(f.name, f.line, f.static, f.inline, f.return_type, f.params) for f in facts.functions]
    calls = []
    for f in facts.functions:
        for c in f.calls:
            if c.callee:
                kind, name, recv = "call", c.callee, ()
            elif c.field:
                kind, name, recv = "field", c.field, c.receiver
            else:
                kind, name, recv = "array", c.array, ()
            calls.append((f.name, kind, name, recv, c.line, len(c.args), c))
    return functions, calls


def _diff(extractor: list, oracle: list) -> dict:
    e, o = Counter(extractor), Counter(oracle)
    return {"extractor_only": sorted((e - o).elements(), key=repr),
            "oracle_only": sorted((o - e).elements(), key=repr)}


def compare(facts, oracle: _Oracle, key=lambda call: call[:6]) -> dict:
    """{"functions": diff, "calls": diff}; empty lists everywhere when they agree."""
    ext_functions, ext_calls = extractor_view(facts)
    return {"functions": _diff(ext_functions, oracle.functions),
            "calls": _diff([key(c) for c in ext_calls], [key(c) for c in oracle.calls])}


def agree(diff: dict) -> bool:
    return not any(side for part in diff.values() for side in part.values())


def describe(diff: dict, text: str = "") -> str:
    out = ["fencecheck's extractor and pycparser disagree",
           "  (function: name, line, static, inline, return type, params;"
           " call: function, kind, callee, receiver, line, nargs[, position])"]
    for what, part in diff.items():
        for side, items in part.items():
            for item in items:
                out.append(f"  {what} {side.replace('_', ' ')}: {item!r}")
    if text:
        out.append("--- source ---")
        out.extend(f"{i:4d} {line}" for i, line in enumerate(text.split("\n"), 1))
    return "\n".join(out)


# -- fixtures -------------------------------------------------------------------

_ELVIS = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|\?(?=\s*:)')


def preprocess(path: str, defines=()) -> str:
    out = subprocess.run(
        [GCC, "-E", "-std=c11", "-nostdinc", "-undef", "-I", STUBS, *(f"-D{d}" for d in defines),
         "-x", "c", path],
        capture_output=True, text=True, check=False)
    assert out.returncode == 0, f"gcc -E failed on {path}:\n{out.stderr}"
    # GNU `a ?: b` (omitted middle operand) -> `a ? 0 : b`; same lines.
    return _ELVIS.sub(lambda m: "? 0" if m.group(0) == "?" else m.group(0), out.stdout)


def _fixture_params():
    for path in FIXTURES:
        rel = os.path.relpath(path, FIXTURE_ROOT).replace(os.sep, "/")
        marks = [needs_gcc]
        if rel in EXCLUDED:
            marks.append(pytest.mark.skip(reason=EXCLUDED[rel]))
        if rel in KNOWN_BUGS:
            marks.append(pytest.mark.xfail(strict=True, raises=ExtractorBug, reason=KNOWN_BUGS[rel][0]))
        yield pytest.param(path, id=rel, marks=marks)


# Macros taking a type argument (`struct T`): not an expression, so the extractor
# records its words as two arguments; their argument count is not compared.
TYPE_ARG_MACROS = {"container_of", "list_first_entry_or_null"}


def fixture_key(call):
    fn, kind, name, recv, line, nargs = call[:6]
    return fn, kind, name, recv, line, None if name in TYPE_ARG_MACROS else nargs


@pytest.mark.parametrize("path", list(_fixture_params()))
def test_fixture_matches_pycparser(path):
    rel = os.path.relpath(path, FIXTURE_ROOT).replace(os.sep, "/")
    text = preprocess(path, DEFINES.get(rel, ()))
    oracle = oracle_view(text, path)
    facts = extract_source(rel, open(path, "rb").read())
    diff = compare(facts, oracle, fixture_key)
    if rel in KNOWN_BUGS and diff == {"functions": {"extractor_only": [], "oracle_only": []},
                                      "calls": KNOWN_BUGS[rel][1]}:
        raise ExtractorBug(KNOWN_BUGS[rel][0] + "\n" + describe(diff))
    assert agree(diff), describe(diff)
    # the comparison is not vacuous
    assert oracle.functions or not facts.functions


def test_fixtures_found():
    assert len(FIXTURES) >= 20


@needs_gcc
def test_oracle_detects_a_dropped_call():
    """The comparison can fail: drop one call from the extractor's facts."""
    path = os.path.join(FIXTURE_ROOT, "drivers", "gpu", "drm", "fakesched", "fake_job.c")
    oracle = oracle_view(preprocess(path), path)
    facts = extract_source("x.c", open(path, "rb").read())
    assert agree(compare(facts, oracle))
    run = next(f for f in facts.functions if f.name == "fake_job_run")
    dropped = run.calls.pop(3)
    diff = compare(facts, oracle)
    assert diff["calls"]["oracle_only"] == [("fake_job_run", "call", dropped.callee, (), dropped.line, 1)]
    run.calls.insert(3, dropped)
    run.calls[0].line += 1
    assert not agree(compare(facts, oracle))
