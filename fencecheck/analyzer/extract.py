"""Stage 2: one C file's bytes -> FileFacts (plain data, rule-independent).

tree-sitter-c parses the file as it is (no preprocessor, no config) after
``preprocess.prepare`` blanked annotation macros.  The walk below keeps only
what later stages need: definitions, call sites with their control structure,
designated-initializer and assignment bindings of functions to struct fields,
declared types of parameters, locals, globals and struct fields.

Deeply nested input (generated tables, pathological expressions) must not
overflow Python's stack: past ``MAX_DEPTH`` levels the walk stops building
structure and collects the remaining calls flat, iteratively.
"""
from __future__ import annotations

import re
from functools import lru_cache

import tree_sitter_c
from tree_sitter import Language, Node, Parser

from .facts import Binding, Call, FileFacts, Function
from .preprocess import prepare

MAX_DEPTH = 150
MAX_ARG_TEXT = 160

_STRUCT_IN_TEXT = re.compile(r"\b(?:struct|union)\s+(\w+)")
# Macros that take a loop body: list_for_each_entry, idr_for_each_entry, xa_for_each...
_ITERATOR_RE = re.compile(r"for_each|foreach|^for_")
# An expression yields a call, a binding or a statement block only if it holds
# one of these bytes; most operands (`ring->fence_drv.gpu_addr + 4`) hold none.
_ACTIVE_BYTE_RE = re.compile(rb"[(={]")
# Expression leaves: no call below them at any depth, so callers skip them
# without a call of expr (half of all operands are leaves).
_LEAF_EXPRESSIONS = frozenset({
    "string_literal", "number_literal", "identifier", "field_identifier", "char_literal", "true", "false",
    "null", "comment", "concatenated_string"})
# ... and sizeof (its operand is never evaluated).
_INERT_EXPRESSIONS = _LEAF_EXPRESSIONS | {"sizeof_expression", "type_descriptor"}
# File-scope subtrees that hold no definition, declaration or struct type
# unless the parser recovered from an error inside them (a function swallowed
# by an initializer): a driver's tables and enums are most of its nodes
# outside functions.
_FILE_SCOPE_OPAQUE = frozenset({
    "initializer_list", "enumerator_list", "preproc_def",
    "preproc_function_def", "preproc_include", "preproc_call", "string_literal", "concatenated_string"})
# Searched from its '#', which the regex engine finds fast; a line-start anchor
# would make it try every position of the file.
_INCLUDE_RE = re.compile(rb'#[ \t]*include[ \t]*[<"]([^>"]+)[>"]')
# `(u32)(x - y)` parses as a call of `u32` unless the parser knows u32 is a
# type.  Typedefs of the file itself are known (C declares before use); these
# are the kernel's and libc's type names that come from headers.
_HEADER_TYPE_NAME_RE = re.compile(r"(?:__)?[us](?:8|16|32|64|128)|__(?:le|be)(?:16|32|64)|\w+_t|bool")


_LANGUAGE = Language(tree_sitter_c.language())
# Children are looked up by field id: child_by_field_name compares the name
# with the grammar's field names one by one on every call.
_FIELD_ALTERNATIVE = _LANGUAGE.field_id_for_name("alternative")
_FIELD_ARGUMENT = _LANGUAGE.field_id_for_name("argument")
_FIELD_ARGUMENTS = _LANGUAGE.field_id_for_name("arguments")
_FIELD_BODY = _LANGUAGE.field_id_for_name("body")
_FIELD_CONDITION = _LANGUAGE.field_id_for_name("condition")
_FIELD_CONSEQUENCE = _LANGUAGE.field_id_for_name("consequence")
_FIELD_DECLARATOR = _LANGUAGE.field_id_for_name("declarator")
_FIELD_FIELD = _LANGUAGE.field_id_for_name("field")
_FIELD_FUNCTION = _LANGUAGE.field_id_for_name("function")
_FIELD_INITIALIZER = _LANGUAGE.field_id_for_name("initializer")
_FIELD_LABEL = _LANGUAGE.field_id_for_name("label")
_FIELD_LEFT = _LANGUAGE.field_id_for_name("left")
_FIELD_NAME = _LANGUAGE.field_id_for_name("name")
_FIELD_OPERATOR = _LANGUAGE.field_id_for_name("operator")
_FIELD_PARAMETERS = _LANGUAGE.field_id_for_name("parameters")
_FIELD_RIGHT = _LANGUAGE.field_id_for_name("right")
_FIELD_TYPE = _LANGUAGE.field_id_for_name("type")
_FIELD_UPDATE = _LANGUAGE.field_id_for_name("update")
_FIELD_VALUE = _LANGUAGE.field_id_for_name("value")


@lru_cache(maxsize=1)
def _parser() -> Parser:
    # Built once per process: tree-sitter objects cannot be pickled.
    return Parser(_LANGUAGE)


def _text(source: bytes, node: Node) -> str:
    # Node.text makes a memoryview and a slice object per call: twice as slow.
    return source[node.start_byte:node.end_byte].decode("utf-8", "replace")


def type_name(source: bytes, node: Node | None) -> str:
    """The name of a type specifier: struct/union/enum tag, typedef or primitive."""
    if node is None:
        return ""
    t = node.type
    if t in ("struct_specifier", "union_specifier", "enum_specifier"):
        name = node.child_by_field_id(_FIELD_NAME)
        return _text(source, name) if name is not None else ""
    if t in ("type_identifier", "primitive_type", "sized_type_specifier", "identifier"):
        return _text(source, node)
    if t == "macro_type_specifier":
        name = node.child_by_field_id(_FIELD_NAME)
        return _text(source, name) if name is not None else ""
    return ""


def declarator_name(source: bytes, node: Node | None) -> str:
    """Innermost identifier of a (pointer, array, function, init) declarator."""
    depth = 0
    while node is not None and depth < 64:
        depth += 1
        if node.type in ("identifier", "field_identifier", "type_identifier"):
            return _text(source, node)
        inner = node.child_by_field_id(_FIELD_DECLARATOR)
        if inner is None:
            for child in node.named_children:
                if child.type in ("identifier", "field_identifier", "parenthesized_declarator",
                                  "pointer_declarator", "function_declarator", "array_declarator"):
                    inner = child
                    break
        node = inner
    return ""


def _function_declarator(node: Node | None) -> Node | None:
    depth = 0
    while node is not None and depth < 64:
        depth += 1
        if node.type == "function_declarator":
            # `int (*get(void))(int)`: the outermost function declarator whose
            # own declarator is the name is the one we want.
            inner = node.child_by_field_id(_FIELD_DECLARATOR)
            if inner is not None and inner.type in ("identifier", "field_identifier"):
                return node
            found = _function_declarator(inner)
            return found if found is not None else node
        if node.type == "parenthesized_declarator":
            # `T (*name(args))[4]`: a function returning a pointer to an array
            node = _inner(node)
            continue
        node = node.child_by_field_id(_FIELD_DECLARATOR)
    return None


def _inner(node: Node) -> Node | None:
    """The expression inside parentheses, past any comment opening them."""
    for child in node.named_children:
        if child.type != "comment":
            return child
    return None


def _call_shaped_type(node: Node | None) -> tuple[Node, list[Node]] | None:
    """(callee, arguments) when a type descriptor or parameter is a misread call.

    tree-sitter reads some calls as types: the statement `f(g(a * b));` after a
    declaration as the macro type `f` of the function type `g(a *b)`, and
    `(f()) && x` as a cast to the function type `f()` of `&&x`.  A function type
    can be neither, so `T(params)` there is the call T(args)."""
    if node is None:
        return None
    ty = node.child_by_field_id(_FIELD_TYPE)
    decl = node.child_by_field_id(_FIELD_DECLARATOR)
    if ty is None or ty.type != "type_identifier" or decl is None or decl.type != "abstract_function_declarator":
        return None
    params = decl.child_by_field_id(_FIELD_PARAMETERS)
    return ty, [p for p in (params.named_children if params is not None else ()) if p.type != "comment"]


def receiver_chain(source: bytes, node: Node) -> tuple[str, ...]:
    """Describe an object expression as (base, field, field, ...)."""
    fields: list[str] = []
    depth = 0
    while depth < 64:
        depth += 1
        t = node.type
        if t == "field_expression":
            f = node.child_by_field_id(_FIELD_FIELD)
            fields.append(_text(source, f) if f is not None else "?")
            node = node.child_by_field_id(_FIELD_ARGUMENT)
        elif t == "parenthesized_expression":
            node = _inner(node)
        elif t == "pointer_expression":
            node = node.child_by_field_id(_FIELD_ARGUMENT)
        elif t == "subscript_expression":
            node = node.child_by_field_id(_FIELD_ARGUMENT)
        elif t == "cast_expression":
            ty = node.child_by_field_id(_FIELD_TYPE)
            tn = type_name(source, ty.child_by_field_id(_FIELD_TYPE)) if ty is not None else ""
            return (("t:" + tn) if tn else "?",) + tuple(reversed(fields))
        elif t == "identifier":
            return ("v:" + _text(source, node),) + tuple(reversed(fields))
        elif t == "call_expression":
            fn = node.child_by_field_id(_FIELD_FUNCTION)
            if fn is not None and fn.type == "identifier":
                name = _text(source, fn)
                if name in ("container_of", "container_of_const", "list_entry",
                            "list_first_entry", "list_last_entry", "hlist_entry"):
                    m = _STRUCT_IN_TEXT.search(_text(source, node))
                    if m:
                        return ("t:" + m.group(1),) + tuple(reversed(fields))
                return ("c:" + name,) + tuple(reversed(fields))
            break
        else:
            break
        if node is None:
            break
    return ("?",) + tuple(reversed(fields))


_NAME_OR_MEMBER = ("identifier", "field_expression")


def _name_or_member(source: bytes, node: Node) -> tuple[str, str, tuple[str, ...]]:
    """`fn` -> ("fn", "", ()); `gpu->funcs->submit` -> ("", "submit", the
    receiver chain of `gpu->funcs`)."""
    if node.type == "identifier":
        return _text(source, node), "", ()
    f = node.child_by_field_id(_FIELD_FIELD)
    obj = node.child_by_field_id(_FIELD_ARGUMENT)
    return ("", _text(source, f) if f is not None else "",
            receiver_chain(source, obj) if obj is not None else ("?",))


def _unwrap_function_name(source: bytes, node: Node | None) -> str:
    """`fn`, `&fn`, `(fn)`, `(type)fn` -> "fn"; anything else -> ""."""
    depth = 0
    while node is not None and depth < 16:
        depth += 1
        t = node.type
        if t == "identifier":
            return _text(source, node)
        if t == "pointer_expression":
            op = node.child_by_field_id(_FIELD_OPERATOR)
            if op is None or _text(source, op) != "&":
                return ""
            node = node.child_by_field_id(_FIELD_ARGUMENT)
        elif t == "parenthesized_expression":
            node = _inner(node)
        elif t == "cast_expression":
            node = node.child_by_field_id(_FIELD_VALUE)
        else:
            return ""
    return ""


def _is_iterator_macro(source: bytes, stmt: Node) -> bool:
    if stmt.type != "expression_statement" or _text(source, stmt).rstrip().endswith(";"):
        return False
    call = stmt.named_children[0] if stmt.named_children else None
    fn = call.child_by_field_id(_FIELD_FUNCTION) if call is not None and call.type == "call_expression" else None
    return fn is not None and fn.type == "identifier" and _ITERATOR_RE.search(_text(source, fn)) is not None


class _FunctionWalker:
    """Builds one function's call list and skeleton."""

    def __init__(self, facts: FileFacts, func: Function, source: bytes):
        self.facts = facts
        self.func = func
        self.source = source
        self.param_names = {p for p, _ in func.params}

    # -- statements -------------------------------------------------------
    def block(self, node: Node, depth: int) -> list:
        items: list = []
        children = node.named_children
        count = len(children)
        i = 0
        while i < count:
            child = children[i]
            self.statement(child, items, depth + 1)
            # `list_for_each_entry(pos, head, member) { ... }`: tree-sitter sees a
            # call missing its ';' and a block; the block is the loop's body.
            if i + 1 < count and children[i + 1].type == "compound_statement" \
                    and _is_iterator_macro(self.source, child):
                items.append(["loop", self.block(children[i + 1], depth)])
                i += 1
            i += 1
        return items

    def statement(self, node: Node, out: list, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.flat(node, out)
            return
        t = node.type
        if t == "compound_statement":
            out.append(["block", self.block(node, depth)])
        elif t == "expression_statement" or t == "comma_expression":
            self.exprs(node.named_children, out, depth + 1)
        elif t == "declaration":
            self.declaration(node, out, depth)
        elif t == "if_statement":
            cond = node.child_by_field_id(_FIELD_CONDITION)
            if cond is not None:
                self.expr(cond, out, depth + 1)
            then_items: list = []
            cons = node.child_by_field_id(_FIELD_CONSEQUENCE)
            if cons is not None:
                self.statement(cons, then_items, depth + 1)
            else_items = None
            alt = node.child_by_field_id(_FIELD_ALTERNATIVE)
            if alt is not None:
                else_items = []
                for child in alt.named_children:
                    self.statement(child, else_items, depth + 1)
            out.append(["if", then_items, else_items])
        elif t in ("for_statement", "while_statement"):
            # initializer and first condition always run; update and body may not
            init = node.child_by_field_id(_FIELD_INITIALIZER)
            if init is not None:
                if init.type == "declaration":
                    self.declaration(init, out, depth)
                else:
                    self.expr(init, out, depth + 1)
            cond = node.child_by_field_id(_FIELD_CONDITION)
            if cond is not None:
                self.expr(cond, out, depth + 1)
            body_items: list = []
            body = node.child_by_field_id(_FIELD_BODY)
            if body is not None:
                self.statement(body, body_items, depth + 1)
            update = node.child_by_field_id(_FIELD_UPDATE)
            if update is not None:
                self.expr(update, body_items, depth + 1)
            out.append(["loop", body_items])
        elif t == "do_statement":
            body_items = []
            for child in node.named_children:
                if child.type == "parenthesized_expression":
                    self.expr(child, body_items, depth + 1)
                else:
                    self.statement(child, body_items, depth + 1)
            out.append(["do", body_items])
        elif t == "switch_statement":
            cond = node.child_by_field_id(_FIELD_CONDITION)
            if cond is not None:
                self.expr(cond, out, depth + 1)
            body = node.child_by_field_id(_FIELD_BODY)
            out.append(["switch", self.block(body, depth) if body is not None else []])
        elif t == "case_statement":
            value = node.child_by_field_id(_FIELD_VALUE)
            for child in node.named_children:
                if child != value:
                    self.statement(child, out, depth + 1)
        elif t == "return_statement":
            self.exprs(node.named_children, out, depth + 1)
            out.append(["ret"])
        elif t == "goto_statement":
            label = node.child_by_field_id(_FIELD_LABEL)
            out.append(["goto", _text(self.source, label) if label is not None else ""])
        elif t == "labeled_statement":
            label = node.child_by_field_id(_FIELD_LABEL)
            out.append(["label", _text(self.source, label) if label is not None else ""])
            for child in node.named_children:
                if child.type != "statement_identifier":
                    self.statement(child, out, depth + 1)
        elif t == "break_statement":
            out.append(["break"])
        elif t == "continue_statement":
            out.append(["continue"])
        elif t in ("comment", "preproc_call", "preproc_def", "preproc_function_def", "preproc_include"):
            return
        elif t in ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef"):
            # Both branches of a balanced conditional are code of some config.
            condition = node.child_by_field_id(_FIELD_CONDITION)
            name = node.child_by_field_id(_FIELD_NAME)
            for child in node.named_children:
                if child.type in ("identifier", "preproc_defined", "binary_expression",
                                  "unary_expression", "parenthesized_expression", "call_expression",
                                  "number_literal", "preproc_arg"):
                    if child == condition or child == name:
                        continue
                self.statement(child, out, depth + 1)
        elif t == "function_definition":
            # Nested definitions only appear in misparsed macro soup; keep the calls.
            self.flat(node, out)
        elif t == "macro_type_specifier":
            # A call statement read as a type, see _call_shaped_type.
            name = node.child_by_field_id(_FIELD_NAME)
            if name is not None:
                self.type_read_call(name, [c for c in node.named_children if c.type == "type_descriptor"],
                                    out, depth)
        else:
            self.expr(node, out, depth + 1)

    def declaration(self, node: Node, out: list, depth: int) -> None:
        ty = type_name(self.source, node.child_by_field_id(_FIELD_TYPE))
        for child in node.named_children:
            kind = child.type
            if kind == "init_declarator":
                name = declarator_name(self.source, child.child_by_field_id(_FIELD_DECLARATOR))
                value = child.child_by_field_id(_FIELD_VALUE)
                init_text = ""
                if value is not None:
                    init_text = _text(self.source, value)[:MAX_ARG_TEXT]
                    value_kind = value.type
                    if value_kind == "initializer_list":
                        _initializer_bindings(self.source, self.facts, value, ty, (), name, self.func.name)
                    if value_kind not in _LEAF_EXPRESSIONS:
                        self.expr(value, out, depth + 1)
                if name:
                    self.func.locals[name] = (ty, init_text)
            elif kind in ("identifier", "pointer_declarator", "array_declarator"):
                name = declarator_name(self.source, child)
                if name:
                    self.func.locals[name] = (ty, "")
            elif kind not in ("storage_class_specifier", "type_qualifier", "primitive_type",
                              "type_identifier", "struct_specifier", "union_specifier",
                              "enum_specifier", "sized_type_specifier"):
                self.expr(child, out, depth + 1)

    # -- expressions ------------------------------------------------------
    def exprs(self, nodes: list[Node], out: list, depth: int) -> None:
        for node in nodes:
            if node.type not in _LEAF_EXPRESSIONS:
                self.expr(node, out, depth)

    def expr(self, node: Node, out: list, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.flat(node, out)
            return
        t = node.type
        if t in _INERT_EXPRESSIONS:
            return
        if t == "call_expression":
            self.call(node, out, depth)
        elif t == "conditional_expression":
            cond = node.child_by_field_id(_FIELD_CONDITION)
            if cond is not None:
                self.expr(cond, out, depth + 1)
            branch: list = []
            for child in node.named_children:
                if child != cond:
                    self.expr(child, branch, depth + 1)
            if branch:
                out.append(["cond", branch])
        elif t == "binary_expression" and (op := node.child_by_field_id(_FIELD_OPERATOR)) is not None \
                and op.type in ("&&", "||"):
            left = node.child_by_field_id(_FIELD_LEFT)
            right = node.child_by_field_id(_FIELD_RIGHT)
            if left is not None:
                self.expr(left, out, depth + 1)
            branch = []
            if right is not None:
                self.expr(right, branch, depth + 1)
            if branch:
                out.append(["cond", branch])
        elif t == "cast_expression" and (misread := _call_shaped_type(node.child_by_field_id(_FIELD_TYPE))):
            self.type_read_call(*misread, out, depth)
            value = node.child_by_field_id(_FIELD_VALUE)
            if value is not None:
                self.expr(value, out, depth + 1)
        elif t == "compound_statement":          # GNU statement expression ({ ... })
            out.append(["block", self.block(node, depth)])
        elif t == "assignment_expression":
            self.assignment(node)
            self.exprs(node.named_children, out, depth + 1)
        elif _ACTIVE_BYTE_RE.search(self.source, node.start_byte, node.end_byte) is not None:
            self.exprs(node.named_children, out, depth + 1)

    def assignment(self, node: Node) -> None:
        left = node.child_by_field_id(_FIELD_LEFT)
        right = node.child_by_field_id(_FIELD_RIGHT)
        if left is None or right is None or left.type != "field_expression":
            return
        target = _unwrap_function_name(self.source, right)
        if not target:
            return
        field_node = left.child_by_field_id(_FIELD_FIELD)
        obj = left.child_by_field_id(_FIELD_ARGUMENT)
        if field_node is None or obj is None:
            return
        self.facts.bindings.append(Binding(
            struct="", path=(_text(self.source, field_node),), target=target,
            line=node.start_point[0] + 1, receiver=receiver_chain(self.source, obj), function=self.func.name))

    def call(self, node: Node, out: list, depth: int) -> None:
        fn = node.child_by_field_id(_FIELD_FUNCTION)
        args_node = node.child_by_field_id(_FIELD_ARGUMENTS)
        if fn is not None and fn.type == "parenthesized_expression" and self.is_type_name(_inner(fn)):
            # `(s32)(a - b)` is a cast, not a call of s32.
            if args_node is not None:
                self.expr(args_node, out, depth + 1)
            return
        callee = field = array = ""
        receiver: tuple[str, ...] = ()
        target = fn
        target_type = target.type if target is not None else ""
        # (*fp)(...) and (fp)(...) call what fp names.
        while target_type in ("parenthesized_expression", "pointer_expression"):
            target = _inner(target) if target_type == "parenthesized_expression" \
                else target.child_by_field_id(_FIELD_ARGUMENT)
            target_type = target.type if target is not None else ""
        if target_type in _NAME_OR_MEMBER:
            callee, field, receiver = _name_or_member(self.source, target)
        elif target_type == "subscript_expression":
            arr = target.child_by_field_id(_FIELD_ARGUMENT)
            if arr is not None and arr.type in _NAME_OR_MEMBER:
                array, field, receiver = _name_or_member(self.source, arr)
        if target_type == "call_expression":
            # guard(mutex)(&lock): the inner call names the construct.
            self.call(target, out, depth + 1)
            inner = target.child_by_field_id(_FIELD_FUNCTION)
            if inner is not None and inner.type == "identifier":
                callee = _text(self.source, inner) + "()"
        elif target is not None and target_type not in _LEAF_EXPRESSIONS:
            # Calls in the function expression run first: to_gpu(x)->funcs->hw_init(), tbl[idx()]().
            self.expr(target, out, depth + 1)
        args: list[str] = []
        if args_node is not None:
            for a in args_node.named_children:
                a_type = a.type
                if a_type == "comment":
                    continue
                args.append(_text(self.source, a)[:MAX_ARG_TEXT])
                if a_type not in _LEAF_EXPRESSIONS:
                    self.expr(a, out, depth + 1)
        if not (callee or field or array):
            return
        line, col = node.start_point
        calls = self.func.calls
        calls.append(Call.of(callee, line + 1, col, tuple(args), field, receiver, array))
        out.append(len(calls) - 1)

    def is_type_name(self, node: Node | None) -> bool:
        if node is None or node.type != "identifier":
            return False
        name = _text(self.source, node)
        return name in self.facts.typedefs or _HEADER_TYPE_NAME_RE.fullmatch(name) is not None

    def type_read_call(self, name: Node, params: list[Node], out: list, depth: int) -> None:
        """Record the call `name(params)` that tree-sitter read as a type."""
        callee = _text(self.source, name)
        if callee == "sizeof":
            return          # its operand is never evaluated
        for p in params:
            inner = _call_shaped_type(p)
            if inner is not None:
                self.type_read_call(*inner, out, depth + 1)
        self.func.calls.append(Call(
            callee=callee, line=name.start_point[0] + 1, col=name.start_point[1],
            args=tuple(_text(self.source, p)[:MAX_ARG_TEXT] for p in params)))
        out.append(len(self.func.calls) - 1)

    def flat(self, node: Node, out: list) -> None:
        """Collect calls below ``node`` without structure, iteratively."""
        stack = [node]
        found: list[Node] = []
        while stack:
            n = stack.pop()
            if n.type == "call_expression":
                found.append(n)
            stack.extend(reversed(n.named_children))
        for n in sorted(found, key=lambda n: n.start_byte):
            fn = n.child_by_field_id(_FIELD_FUNCTION)
            if fn is None or fn.type != "identifier":
                continue
            args = n.child_by_field_id(_FIELD_ARGUMENTS)
            self.func.calls.append(Call(
                callee=_text(self.source, fn), line=n.start_point[0] + 1, col=n.start_point[1],
                args=tuple(_text(self.source, a)[:MAX_ARG_TEXT] for a in (args.named_children if args else ())
                           if a.type != "comment")))
            out.append(["cond", [len(self.func.calls) - 1]])


def _initializer_bindings(source: bytes, facts: FileFacts, init: Node, struct: str, path: tuple[str, ...],
                          var: str, function: str) -> None:
    """Record `.field = fn` (nested, arrays of structs, `[IDX] = fn`, macros) bindings."""
    stack = [(init, path)]
    while stack:
        node, prefix = stack.pop()
        for child in node.named_children:
            kind = child.type
            if kind == "initializer_pair":
                designators = []
                value = child.child_by_field_id(_FIELD_VALUE)
                for d in child.named_children:
                    if d == value:
                        continue
                    d_kind = d.type
                    if d_kind == "field_designator":
                        f = d.named_children[0] if d.named_children else None
                        designators.append(_text(source, f) if f is not None else "?")
                    elif d_kind == "subscript_designator":
                        designators.append("[]")
                    elif d_kind == "field_identifier":       # old GNU `field: value`
                        designators.append(_text(source, d))
                if value is None or not designators:
                    continue
                sub = prefix + tuple(designators)
                if value.type == "initializer_list":
                    stack.append((value, sub))
                else:
                    name = _unwrap_function_name(source, value)
                    if name:
                        facts.bindings.append(Binding(struct, sub, name, value.start_point[0] + 1,
                                                      var=var, function=function))
            elif kind == "initializer_list":
                # An element of an array of structs: same struct type.
                stack.append((child, prefix))
            elif kind == "call_expression":
                fn = child.child_by_field_id(_FIELD_FUNCTION)
                args = child.child_by_field_id(_FIELD_ARGUMENTS)
                if fn is not None and fn.type == "identifier" and args is not None:
                    macro = _text(source, fn) + "()"
                    for i, a in enumerate(args.named_children):
                        name = _unwrap_function_name(source, a)
                        if name:
                            facts.bindings.append(Binding(struct, prefix + (macro, str(i)), name,
                                                          a.start_point[0] + 1, var=var, function=function))
            else:
                name = _unwrap_function_name(source, child)
                if name:   # positional entry of an array of function pointers
                    facts.bindings.append(Binding(struct, prefix + ("[]",), name,
                                                  child.start_point[0] + 1, var=var, function=function))


def _params(source: bytes, declarator: Node) -> tuple[tuple[str, str], ...]:
    plist = declarator.child_by_field_id(_FIELD_PARAMETERS)
    if plist is None:
        return ()
    params = []
    for p in plist.named_children:
        if p.type != "parameter_declaration":
            continue
        params.append((declarator_name(source, p.child_by_field_id(_FIELD_DECLARATOR)),
                       type_name(source, p.child_by_field_id(_FIELD_TYPE))))
    return tuple(params)


def _struct_fields(source: bytes, facts: FileFacts, spec: Node, name: str = "") -> None:
    """Field -> type name of a struct definition.

    A member of anonymous struct type gets the qualified name "outer.member",
    under which its own fields are recorded, so `engine->reset.prepare` has a
    type to resolve against; members of an unnamed member are the outer's.
    """
    name_node = spec.child_by_field_id(_FIELD_NAME)
    body = spec.child_by_field_id(_FIELD_BODY)
    if not name:
        if name_node is None:
            return
        name = _text(source, name_node)
    if body is None:
        return
    fields = facts.structs.setdefault(name, {})
    stack = [body]
    while stack:
        for decl in stack.pop().named_children:
            if decl.type != "field_declaration":
                continue
            ty_node = decl.child_by_field_id(_FIELD_TYPE)
            declarators = decl.children_by_field_id(_FIELD_DECLARATOR)
            anonymous = ty_node is not None and ty_node.type in ("struct_specifier", "union_specifier") \
                and ty_node.child_by_field_id(_FIELD_NAME) is None \
                and ty_node.child_by_field_id(_FIELD_BODY) is not None
            if anonymous and not declarators:
                stack.append(ty_node.child_by_field_id(_FIELD_BODY))     # unnamed member: fields are ours
                continue
            for child in declarators:
                fname = declarator_name(source, child)
                if not fname:
                    continue
                if anonymous:
                    fields[fname] = f"{name}.{fname}"
                    _struct_fields(source, facts, ty_node, f"{name}.{fname}")
                else:
                    fields[fname] = type_name(source, ty_node)


class _FileWalker:
    def __init__(self, facts: FileFacts, source: bytes):
        self.facts = facts
        self.source = source

    def run(self, root: Node) -> None:
        # Iterative over the file's top level (declarations nest in #if groups,
        # extern "C"-like blocks and ERROR nodes); function bodies recurse.
        stack = [root]
        while stack:
            node = stack.pop()
            t = node.type
            if t == "function_definition":
                self.function(node)
                continue
            if t == "declaration":
                self.declaration(node)
            elif t == "type_definition":
                ty = node.child_by_field_id(_FIELD_TYPE)
                for d in node.children_by_field_id(_FIELD_DECLARATOR):
                    alias = declarator_name(self.source, d)
                    if alias and type_name(self.source, ty):
                        self.facts.typedefs[alias] = type_name(self.source, ty)
            elif t == "expression_statement":
                # File-scope macro invocations: DEFINE_RUNTIME_DEV_PM_OPS(...) and friends.
                for child in node.named_children:
                    if child.type == "call_expression":
                        self.file_call(child)
            if t in ("struct_specifier", "union_specifier"):
                _struct_fields(self.source, self.facts, node)
            if t in _FILE_SCOPE_OPAQUE and not node.has_error:
                continue
            # Nodes without named children (half of those at file scope) hold nothing to record.
            stack.extend(child for child in reversed(node.named_children) if child.named_child_count)

    def file_call(self, node: Node) -> None:
        fn = node.child_by_field_id(_FIELD_FUNCTION)
        args = node.child_by_field_id(_FIELD_ARGUMENTS)
        if fn is None or fn.type != "identifier":
            return
        self.facts.file_calls.append(Call(
            callee=_text(self.source, fn), line=node.start_point[0] + 1, col=node.start_point[1],
            args=tuple(_text(self.source, a)[:MAX_ARG_TEXT] for a in (args.named_children if args else ())
                       if a.type != "comment")))

    def declaration(self, node: Node) -> None:
        ty_node = node.child_by_field_id(_FIELD_TYPE)
        ty = type_name(self.source, ty_node)
        for child in node.named_children:
            kind = child.type
            if kind == "init_declarator":
                name = declarator_name(self.source, child.child_by_field_id(_FIELD_DECLARATOR))
                value = child.child_by_field_id(_FIELD_VALUE)
                if name:
                    self.facts.globals[name] = ty
                if value is not None and value.type == "initializer_list":
                    _initializer_bindings(self.source, self.facts, value, ty, (), name, "")
            elif kind in ("identifier", "pointer_declarator", "array_declarator"):
                name = declarator_name(self.source, child)
                if name:
                    self.facts.globals[name] = ty
            elif kind == "parenthesized_declarator" and ty_node is not None \
                    and ty_node.type == "type_identifier":
                # `static DEFINE_MUTEX(lock);` parses as a declaration of type DEFINE_MUTEX.
                self.facts.file_calls.append(Call(
                    callee=ty, line=node.start_point[0] + 1, col=ty_node.start_point[1],
                    args=(declarator_name(self.source, child),)))

    def function(self, node: Node) -> None:
        decl = _function_declarator(node.child_by_field_id(_FIELD_DECLARATOR))
        if decl is None:
            return
        name = declarator_name(self.source, decl.child_by_field_id(_FIELD_DECLARATOR))
        if not name:
            return
        static = inline = False
        for child in node.children:
            if child.type == "storage_class_specifier":
                word = _text(self.source, child)
                static |= word == "static"
                inline |= word in ("inline", "__inline", "__inline__")
            elif child.type == "ERROR":
                break
        ret = type_name(self.source, node.child_by_field_id(_FIELD_TYPE))
        func = Function(
            name=name, line=node.start_point[0] + 1, end_line=node.end_point[0] + 1,
            col=node.start_point[1], static=static, inline=inline, return_type=ret,
            params=_params(self.source, decl))
        body = node.child_by_field_id(_FIELD_BODY)
        if body is not None:
            walker = _FunctionWalker(self.facts, func, self.source)
            func.body = walker.block(body, 0)
        self.facts.functions.append(func)


def _count_error_lines(root: Node) -> int:
    lines = 0
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type == "ERROR":
            lines += n.end_point[0] - n.start_point[0] + 1
            continue
        if n.has_error:
            stack.extend(n.children)
    return lines


def _includes(source: bytes) -> tuple[str, ...]:
    """Targets of the file's #include directives (the '#' first on its line)."""
    found = []
    for m in _INCLUDE_RE.finditer(source):
        line_start = source.rfind(b"\n", 0, m.start()) + 1
        if not source[line_start:m.start()].strip(b" \t"):
            found.append(m.group(1).decode("utf-8", "replace"))
    return tuple(found)


def extract_source(path: str, source: bytes) -> FileFacts:
    """Facts of one file; ``path`` is stored as given (root-relative)."""
    facts = FileFacts(path=path)
    facts.includes = _includes(source)
    facts.lines = source.count(b"\n") + 1
    prepared = prepare(source)
    root = _parser().parse(prepared).root_node
    _FileWalker(facts, prepared).run(root)
    if root.has_error:
        facts.error_lines = _count_error_lines(root)
    return facts
