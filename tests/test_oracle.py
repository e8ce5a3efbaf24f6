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

The extractor bugs found this way keep their minimal reproducers at the end
of this file as regression tests.

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
        name = p.name if isinstance(p, c_ast.Decl) else None      # `(void)` is a Typename
        out.append((name or "", _type_name(p)))
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
                call = (self.func, *target, node.coord.line, nargs, node.coord)
                self.calls.append(call)
        fn = node.name
        while isinstance(fn, c_ast.UnaryOp) and fn.op in ("*", "&"):
            fn = fn.expr
        self.visit(fn)      # guard(x)(y), to_gpu(x)->funcs->hw_init(), tbl[idx()]()
        if node.args is not None:
            self.visit(node.args)


def oracle_view(text: str, filename: str) -> _Oracle:
    ast = c_parser.CParser().parse(text, filename)
    v = _Oracle(filename)
    v.visit(ast)
    return v


def _ws(type_name: str) -> str:
    # The extractor keeps the source text of a multi-word type, layout and
    # comments included (`unsigned /* c */\n long`): compare the words.
    return " ".join(blank_comments(type_name).split())


def extractor_view(facts):
    functions = [(f.name, f.line, f.static, f.inline, _ws(f.return_type), tuple((n, _ws(t)) for n, t in f.params))
                 for f in facts.functions]
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


def check(diff: dict, text: str = "") -> None:
    """Fail unless the two parsers agree."""
    assert agree(diff), describe(diff, text)


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
    check(compare(facts, oracle, fixture_key))


def test_fixtures_found():
    assert len(FIXTURES) >= 20


# -- generated valid C programs -----------------------------------------------
#
# Standard C (C11, no headers, no preprocessor), type-correct so gcc accepts it:
# every value is a `long`, a `struct obj *` or a `fn_t`.  Layout is random:
# any token boundary may hold a newline or a comment, so statements and calls
# span lines.  pycparser reads the same text with comments blanked (same lines
# and columns).

PRELUDE = """\
typedef long (*fn_t)();
typedef int s32;
typedef unsigned long long u64;
struct ops { fn_t fn; fn_t run; fn_t tbl[4]; };
struct obj { struct ops *ops; struct obj *next; struct obj *arr[4]; fn_t cb; long v; };
long f0(), f1(), f2(), f3();
struct obj *get_obj();
fn_t pick();
fn_t tbl[4];
fn_t fp;
long g;
"""
EXTERNAL = ["f0", "f1", "f2", "f3"]
STRINGS = ['"x"', '"f(x);"', '"/* no comment */"', '"a\\"b(c)"', '"{ g(); }"', '"// x"', "\"'\""]
NUMBERS = ["0", "1", "42", "0x10", "7L", "'('", "'\\''"]
PARAMS = {  # name -> (declaration, kind)
    "a": ("long a", "long"), "b": ("long b", "long"), "n": ("unsigned long n", "long"),
    "o": ("struct obj *o", "obj"), "q": ("struct obj *q", "obj"), "s": ("const char *s", "str"),
    "cb": ("long (*cb)()", "fn"), "h": ("fn_t h", "fn"),
}
_PUNCT_GLUE = set("(){}[];,")
_COMMENT = re.compile(r'"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'|/\*.*?\*/|//[^\n]*', re.S)


def blank_comments(text: str) -> str:
    return _COMMENT.sub(lambda m: m.group(0) if m.group(0)[0] in "\"'" else re.sub(r"[^\n]", " ", m.group(0)),
                        text)


def _wordy(tok: str) -> bool:
    return tok[0].isalnum() or tok[0] in "_\"'"


def render(tokens: list[str], rnd) -> str:
    out = [tokens[0]]
    for prev, tok in zip(tokens, tokens[1:]):
        r = rnd.random()
        glue_ok = (_wordy(prev) != _wordy(tok)) or prev in _PUNCT_GLUE or tok in _PUNCT_GLUE
        if r < 0.12:
            sep = "\n" + "\t" * rnd.randrange(3)
        elif r < 0.14:
            sep = rnd.choice([" /* c */ ", " /* two\n lines */ ", " // to the end\n", "\n/*\n * block\n */\n"])
        elif r < 0.55 and glue_ok and not (_wordy(prev) and _wordy(tok)):
            sep = ""
        else:
            sep = " "
        out.append(sep)
        out.append(tok)
    return "".join(out)


class _Scope:
    """Names visible at a point, by kind: long, obj (struct obj *), fn (fn_t), str."""

    def __init__(self):
        self.vars: dict[str, list[str]] = {"long": [], "obj": [], "fn": [], "str": []}

    def child(self) -> "_Scope":
        s = _Scope()
        s.vars = {k: list(v) for k, v in self.vars.items()}
        return s


class _Gen:
    """Draws one program; methods return token lists."""

    def __init__(self, draw):
        self.draw = draw
        self.counter = 0
        self.functions: list[tuple[str, str, list[str], bool, bool]] = []   # name, ret, params, static, inline

    def pick(self, seq):
        return self.draw(st.sampled_from(list(seq)))

    def n(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    # expressions -------------------------------------------------------------
    def args(self, scope, depth, count=None):
        count = self.n(0, 3) if count is None else count
        out = []
        for i in range(count):
            if i:
                out.append(",")
            out += [self.pick(STRINGS)] if self.n(0, 9) == 0 else self.expr(scope, depth - 1)
        return out

    def typed_args(self, params, scope, depth):
        out = []
        for i, p in enumerate(params):
            if i:
                out.append(",")
            kind = PARAMS[p][1]
            if kind == "long":
                out += self.expr(scope, depth - 1)
            elif kind == "obj":
                out += self.obj(scope, depth - 1)
            elif kind == "fn":
                out += self.fn(scope, depth - 1)
            else:
                out.append(self.pick(STRINGS))
        return out

    def atom(self, scope):
        choices = ["num", "g"] + ["var"] * bool(scope.vars["long"]) + ["field"] * bool(scope.vars["obj"])
        c = self.pick(choices)
        if c == "num":
            return [self.pick(NUMBERS)]
        if c == "var":
            return [self.pick(scope.vars["long"])]
        if c == "field":
            return [self.pick(scope.vars["obj"]), "->", "v"]
        return ["g"]

    def lvalue(self, scope, depth):
        c = self.n(0, 3)
        if c == 0 and scope.vars["long"]:
            return [self.pick(scope.vars["long"])]
        if c == 1:
            return self.obj(scope, depth - 1) + ["->", "v"]
        return ["g"]

    def call(self, scope, depth):
        """A long-valued call expression of any shape."""
        c = self.n(0, 11)
        longs = [f for f in self.functions if f[1] == "long"]
        fnrets = [f for f in self.functions if f[1] == "fnptr"]
        if c <= 3:
            return [self.pick(EXTERNAL), "("] + self.args(scope, depth) + [")"]
        if c == 4 and longs:
            f = self.pick(longs)
            return [f[0], "("] + self.typed_args(f[2], scope, depth) + [")"]
        if c == 5:
            r = self.obj(scope, depth - 1)
            form = self.n(0, 5)
            a = ["("] + self.args(scope, depth) + [")"]
            if form == 0:
                return r + ["->", "ops", "->", self.pick(["fn", "run"])] + a
            if form == 1:
                return r + ["->", "cb"] + a
            if form == 2:
                return r + ["->", "ops", "->", "tbl", "["] + self.expr(scope, depth - 1) + ["]"] + a
            if form == 3:
                return ["(", "*"] + r + ["->", "cb", ")"] + a
            if form == 4:
                return ["("] + r + ["->", "ops", "->", "run", ")"] + a
            return ["(", "*"] + r + [")", ".", "cb"] + a
        if c == 6:
            f = self.fn(scope, depth - 1)
            return (["(", "*"] + f + [")"] if self.n(0, 1) else f) + ["("] + self.args(scope, depth) + [")"]
        if c == 7 and fnrets:
            f = self.pick(fnrets)
            return [f[0], "("] + self.typed_args(f[2], scope, depth) + [")", "("] + self.args(scope, depth) + [")"]
        if c == 8 and scope.vars["fn"]:
            name = self.pick(scope.vars["fn"])
            return ([name] if self.n(0, 1) else ["(", "*", name, ")"]) + ["("] + self.args(scope, depth) + [")"]
        return [self.pick(EXTERNAL), "("] + self.args(scope, depth) + [")"]

    def expr(self, scope, depth):
        if depth <= 0:
            return self.atom(scope)
        c = self.n(0, 19)
        if c <= 1:
            return self.atom(scope)
        if c <= 6:
            return self.call(scope, depth)
        if c <= 8:
            left = self.expr(scope, depth - 1)
            ops = ["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "<", ">", "<=", ">=", "==", "!="]
            return left + [self.pick(ops)] + self.expr(scope, depth - 1)
        if c == 9:
            return self.expr(scope, depth - 1) + [self.pick(["&&", "||"])] + self.expr(scope, depth - 1)
        if c == 10:
            return ["("] + self.expr(scope, depth - 1) + ["?"] + self.expr(scope, depth - 1) + [":"] \
                + self.expr(scope, depth - 1) + [")"]
        if c == 11:
            return [self.pick(["-", "!", "~"])] + self.expr(scope, depth - 1)
        if c == 12:
            return ["("] + self.expr(scope, depth - 1) + [")"]
        if c == 13:
            return ["(", self.pick(["long", "int", "unsigned long", "s32", "u64"]), ")"] \
                + ["("] + self.expr(scope, depth - 1) + [")"]
        if c == 14:
            return ["("] + self.expr(scope, depth - 1) + [","] + self.expr(scope, depth - 1) + [")"]
        if c == 15:
            return ["("] + self.lvalue(scope, depth) + [self.pick(["=", "+=", "|="])] \
                + self.expr(scope, depth - 1) + [")"]
        if c == 16:   # not evaluated: no call site
            if self.n(0, 1):
                return ["sizeof", "("] + self.expr(scope, depth - 1) + [")"]
            return ["sizeof"] + self.call(scope, depth - 1)
        if c == 17:
            return ["(", "struct", "obj", ")", "{", ".", "v", "="] + self.expr(scope, depth - 1) \
                + [",", ".", "next", "="] + self.obj(scope, depth - 1) + ["}", ".", "v"]
        if c == 18 and scope.vars["long"]:
            v = self.pick(scope.vars["long"])
            return [v, "++"] if self.n(0, 1) else ["--", v]
        return self.call(scope, depth)

    def obj(self, scope, depth):
        """A `struct obj *` expression at postfix level (safe before -> and after *)."""
        if depth <= 0:
            if scope.vars["obj"]:
                return [self.pick(scope.vars["obj"])]
            return ["get_obj", "(", ")"]
        c = self.n(0, 8)
        if c <= 1 and scope.vars["obj"]:
            return [self.pick(scope.vars["obj"])]
        if c == 2:
            return ["get_obj", "("] + self.args(scope, depth) + [")"]
        if c == 3:
            return self.obj(scope, depth - 1) + ["->", "next"]
        if c == 4:
            return self.obj(scope, depth - 1) + ["->", "arr", "["] + self.expr(scope, depth - 1) + ["]"]
        if c == 5:
            return ["(", "*"] + self.obj(scope, depth - 1) + [")", ".", "next"]
        if c == 6:
            return ["(", "(", "struct", "obj", "*", ")"] + self.obj(scope, depth - 1) + [")"]
        if c == 7:
            return ["("] + self.expr(scope, depth - 1) + ["?"] + self.obj(scope, depth - 1) + [":"] \
                + self.obj(scope, depth - 1) + [")"]
        objs = [f for f in self.functions if f[1] == "obj"]
        if objs:
            f = self.pick(objs)
            return [f[0], "("] + self.typed_args(f[2], scope, depth) + [")"]
        return ["get_obj", "(", ")"]

    def fn(self, scope, depth):
        """A fn_t expression at postfix level."""
        c = self.n(0, 6)
        if c == 0 and scope.vars["fn"]:
            return [self.pick(scope.vars["fn"])]
        if c == 1:
            return ["tbl", "["] + self.expr(scope, depth - 1) + ["]"]
        if c == 2 and depth > 0:
            return self.obj(scope, depth - 1) + ["->", "cb"]
        if c == 3 and depth > 0:
            return self.obj(scope, depth - 1) + ["->", "ops", "->", "fn"]
        if c == 4:
            return ["pick", "("] + self.args(scope, depth) + [")"]
        return ["fp"]

    # statements --------------------------------------------------------------
    def block(self, scope, ctx, depth):
        scope = scope.child()
        out = ["{"]
        for _ in range(self.n(0, 4 if depth > 0 else 1)):
            out += self.stmt(scope, ctx, depth - 1, allow_decl=True)
        return out + ["}"]

    def stmt(self, scope, ctx, depth, allow_decl=False):
        """One statement; a declaration (allow_decl) adds its names to ``scope``."""
        e = max(depth, 1)
        c = self.n(0, 23 if depth > 0 else 7)
        if c <= 3:
            return self.call(scope, e) + [";"]
        if c == 4:
            return self.lvalue(scope, e) + [self.pick(["=", "+=", "-="])] + self.expr(scope, e) + [";"]
        if c == 5:
            voids = [f for f in self.functions if f[1] == "void"]
            if voids:
                f = self.pick(voids)
                return [f[0], "("] + self.typed_args(f[2], scope, e) + [")", ";"]
            return self.expr(scope, e) + [";"]
        if c == 6 and allow_decl:
            kind = self.pick(["long", "long", "obj", "fn", "multi"])
            if kind == "long":
                v = self.fresh("v")
                init = ["="] + self.expr(scope, e) if self.n(0, 3) else []
                scope.vars["long"].append(v)
                return ["long", v] + init + [";"]
            if kind == "obj":
                v = self.fresh("p")
                init = self.obj(scope, e)
                scope.vars["obj"].append(v)
                return ["struct", "obj", "*", v, "="] + init + [";"]
            if kind == "fn":
                v = self.fresh("k")
                init = self.fn(scope, e)
                scope.vars["fn"].append(v)
                return ["fn_t", v, "="] + init + [";"]
            v, w = self.fresh("v"), self.fresh("v")
            first = self.expr(scope, e)
            scope.vars["long"].append(v)
            second = self.expr(scope, e)
            scope.vars["long"].append(w)
            return ["long", v, "="] + first + [",", w, "="] + second + [";"]
        if c == 7:
            return self.ret(scope, e)
        if c in (8, 9, 22):
            out = ["if", "("] + self.expr(scope, e) + [")"] + self.stmt(scope, ctx, depth - 1)
            if self.n(0, 1):
                out += ["else"] + self.stmt(scope, ctx, depth - 1)
            return out
        if c == 10:
            return ["while", "("] + self.expr(scope, e) + [")"] + self.stmt(scope, ctx | {"loop"}, depth - 1)
        if c in (11, 21):
            inner = scope.child()
            init: list[str] = []
            form = self.n(0, 2)
            if form == 1:
                v = self.fresh("i")
                init = ["long", v, "="] + self.expr(scope, e)
                inner.vars["long"].append(v)
            elif form == 2:
                init = self.expr(scope, e)
            cond = self.expr(inner, e) if self.n(0, 2) else []
            step = self.expr(inner, e) if self.n(0, 2) else []
            return ["for", "("] + init + [";"] + cond + [";"] + step + [")"] \
                + self.stmt(inner, ctx | {"loop"}, depth - 1)
        if c == 12:
            return ["do"] + self.stmt(scope, ctx | {"loop"}, depth - 1) + ["while", "("] + self.expr(scope, e) \
                + [")", ";"]
        if c == 13:
            out = ["switch", "("] + self.expr(scope, e) + [")", "{"]
            for label in self.draw(st.lists(st.sampled_from(["0", "1", "2", "'a'", "default"]), unique=True,
                                            max_size=3)):
                out += (["default", ":"] if label == "default" else ["case", label, ":"])
                body: list[str] = []
                for _ in range(self.n(0, 2)):
                    body += self.stmt(scope, ctx | {"switch"}, depth - 1)
                if self.n(0, 1):
                    body += ["break", ";"]
                out += body or [";"]          # no label at the end of a block
            return out + ["}"]
        if c == 14:
            label = self.pick(["out0", "out1", "out2"])
            self.labels["used"].add(label)      # defined at the end of the body if not before
            return ["goto", label, ";"]
        if c == 15:
            free = [x for x in ("out0", "out1", "out2", "mid") if x not in self.labels["defined"]]
            if free:
                label = self.pick(free)
                self.labels["defined"].add(label)
                return [label, ":"] + self.stmt(scope, ctx, depth - 1)
            return [";"]
        if c in (16, 17):
            return self.block(scope, ctx, depth)
        if c == 18 and ("loop" in ctx or "switch" in ctx):
            return ["break", ";"]
        if c == 19 and "loop" in ctx:
            return ["continue", ";"]
        if c == 20:
            return [";"]
        return self.call(scope, e) + [";"]

    def ret(self, scope, depth):
        kind = self.ret_kind
        if kind == "void":
            return ["return", ";"]
        if kind == "obj":
            return ["return"] + self.obj(scope, depth) + [";"]
        if kind == "fnptr":
            return ["return"] + self.fn(scope, depth) + [";"]
        return ["return"] + self.expr(scope, depth) + [";"]

    # definitions -------------------------------------------------------------
    def function(self, index):
        name = f"d{index}"
        ret = self.pick(["long", "long", "void", "obj", "fnptr"])
        static = self.n(0, 1) == 1
        inline = static and self.n(0, 2) == 0
        params = self.draw(st.lists(st.sampled_from(sorted(PARAMS)), unique=True, max_size=4))
        self.functions.append((name, ret, params, static, inline))
        return name, ret, params, static, inline

    def definition(self, sig):
        name, ret, params, static, inline = sig
        self.ret_kind = ret
        self.labels = {"used": set(), "defined": set()}
        spec = " ".join(["static"] * static + ["inline"] * inline
                        + [{"long": "long", "void": "void", "obj": "struct obj", "fnptr": "long"}[ret]])
        plist = ["("]
        for i, p in enumerate(params):
            plist += ([","] if i else []) + PARAMS[p][0].replace("(*", "( *").split()
        plist += (["void"] if not params else []) + [")"]
        if ret == "fnptr":
            head = [spec, "(", "*", name] + plist + [")", "(", ")"]
        else:
            head = [spec] + (["*"] if ret == "obj" else []) + [name] + plist
        scope = _Scope()
        for p in params:
            scope.vars[PARAMS[p][1]].append(p)
        depth = self.n(1, 4)
        body = ["{"]
        for _ in range(self.n(0, 6)):
            body += self.stmt(scope, frozenset(), depth, allow_decl=True)
        for label in sorted(self.labels["used"] - self.labels["defined"]):
            body += [label, ":"] + self.call(scope, 1) + [";"]
        if ret != "void" and self.n(0, 3):
            body += self.ret(scope, depth)
        body += ["}"]
        return head + body


def _prototype(sig) -> str:
    name, ret, params, static, inline = sig
    st_ = "static " if static else ""
    return {"long": f"{st_}long {name}();", "void": f"{st_}void {name}();",
            "obj": f"{st_}struct obj *{name}();", "fnptr": f"{st_}long (*{name}())();"}[ret]


class Program:
    def __init__(self, text: str, n_functions: int):
        self.text = text
        self.stripped = blank_comments(text)
        self.n_functions = n_functions

    def __repr__(self):
        return "Program:\n" + self.text


@st.composite
def programs(draw):
    gen = _Gen(draw)
    sigs = [gen.function(i) for i in range(draw(st.integers(1, 4)))]
    rnd = draw(st.randoms(use_true_random=False))
    parts = [PRELUDE] + [_prototype(s) for s in sigs]
    for sig in sigs:
        parts.append("")
        parts.append(render(gen.definition(sig), rnd))
    return Program("\n".join(parts) + "\n", len(sigs))


def _significant(text: str, line: int, col: int) -> tuple[int, int]:
    """First position at or after (line, col) that is not `(`, a prefix operator or blank.

    The extractor reports where the call expression starts (`(*fp)(x)` at its
    `(`), pycparser where the first operand is (`fp`; `(-x ? a : b)->f()` at
    `x`): both land here."""
    lines = text.split("\n")
    while line <= len(lines):
        rest = lines[line - 1]
        while col < len(rest) and rest[col] in "(*&-+!~ \t":
            col += 1
        if col < len(rest):
            return line, col
        line, col = line + 1, 0
    return line, col


def generated_key(text: str):
    def key(call):
        where = call[6]
        pos = (where.line, where.col) if hasattr(where, "callee") else (where.line, where.column - 1)
        return call[0], call[1], call[2], call[3], call[5], _significant(text, *pos)
    return key


FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(programs())
def test_generated_program_matches_pycparser(prog):
    oracle = oracle_view(prog.stripped, "gen.c")
    assert len(oracle.functions) == prog.n_functions
    facts = extract_source("gen.c", prog.text.encode())
    check(compare(facts, oracle, generated_key(prog.stripped)), prog.text)


@needs_gcc
@settings(max_examples=min(EXAMPLES, 30), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(programs())
def test_generated_programs_are_valid_c(prog):
    """The generator's programs are C11 that gcc accepts (so the oracle is fair)."""
    out = subprocess.run(
        [GCC, "-fsyntax-only", "-std=c11", "-pedantic-errors", "-Werror=implicit-function-declaration",
         "-Werror=int-conversion", "-Werror=incompatible-pointer-types", "-x", "c", "-"],
        input=prog.text, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr + "\n" + prog.text


# -- extractor bugs the oracle found: minimal reproducers -----------------------

def _reproduce(src: str) -> None:
    oracle = oracle_view(blank_comments(src), "bug.c")
    facts = extract_source("bug.c", src.encode())
    check(compare(facts, oracle), src)


def test_call_in_callee_expression():
    """Calls in the function expression of a call (the receiver of
    `to_gpu(x)->funcs->hw_init()`, the index of `tbl[idx()]()`) were missed."""
    _reproduce("long f(void)\n"
               "{\n"
               "\tto_gpu(1)->funcs->hw_init(2);\n"
               "\ttbl[idx()](3);\n"
               "\treturn 0;\n"
               "}\n")


def test_typedef_cast_of_parenthesized_operand():
    """tree-sitter parses `(s32)(a - b)` as a call of s32: it cannot know s32
    is a type.  It was reported as a call site."""
    _reproduce("typedef int s32;\n"
               "typedef unsigned long long u64;\n"
               "long f(long a, long b)\n"
               "{\n"
               "\treturn (s32)(a - b) < (u64)(g(a));\n"
               "}\n")


def test_comment_opening_parentheses():
    """A comment as the first child of parentheses was unwrapped instead of the
    expression: `(/* c */ *fp)(1)` was lost, `(/* c */ o)->cb(2)` lost its receiver."""
    _reproduce("void f(void)\n"
               "{\n"
               "\t(/* c */ *fp)(1);\n"
               "\t(/* c */ o)->cb(2);\n"
               "}\n")


def test_parenthesized_call():
    """tree-sitter may parse a parenthesized call followed by an operator that
    can also be a prefix (`&&`, `&`) as a cast to the function type `f(...)`;
    the calls inside were lost."""
    _reproduce("long g(long x)\n"
               "{\n"
               "\tif ((f()) && x)\n"
               "\t\treturn (h(x)) & 0 + 1;\n"
               "\treturn 0;\n"
               "}\n")


def test_call_read_as_declaration():
    """A call statement after a declaration whose argument is a call of a
    product, `kfree(kmalloc_array(n * size));`, is parsed as a macro type
    `kfree(...)`; both calls were lost, and nested ones must be kept too."""
    _reproduce("void f(void)\n"
               "{\n"
               "\tint n = 1, size = 2;\n"
               "\tkfree(kmalloc_array(n * size));\n"
               "\tkfree(kmalloc_array(g(n * size)));\n"
               "\tkfree(sizeof(n * size));\n"
               "}\n")
