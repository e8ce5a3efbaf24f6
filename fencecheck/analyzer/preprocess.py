"""Make raw kernel C palatable to tree-sitter without moving a single byte.

Two rewrites, both replacing text with spaces of equal length (newlines are
kept) so byte offsets, lines and columns stay exact:

* annotation macros (``__init``, ``__user``, ``__acquires(x)``,
  ``__free(kfree)``, ``__attribute__((...))``...) are blanked: they are noise
  to a C grammar and make it drop or mangle function definitions;
* a conditional group (``#if``/``#ifdef``... ``#endif``) whose directive sits
  inside parentheses, or whose branches do not balance their braces, keeps
  only its first branch and loses its directive lines: both branches of such
  a group in one parse, or a directive inside an argument list, produce an
  ERROR node that can swallow thousands of lines;
* ``#if 0`` blocks are blanked: dead code that is often not even C.
"""
from __future__ import annotations

import re

# Bare annotation words; blanked when they stand alone as identifiers.
ANNOTATION_WORDS = (
    "__init", "__exit", "__user", "__iomem", "__rcu", "__must_check",
    "__always_inline", "__maybe_unused", "__always_unused", "__cold", "__hot",
    "__force", "__nocast", "__percpu", "__ref", "__refdata", "__initdata",
    "__initconst", "__exitdata", "__read_mostly", "__ro_after_init",
    "__noreturn", "__packed", "__weak", "__visible", "asmlinkage", "notrace",
    "__latent_entropy", "__init_or_module", "__sched", "__kprobes", "noinline",
    "__noinline", "__flatten", "__pure", "__malloc", "__noclone", "__bitwise",
    "__safe", "__private", "__iomem_rcu", "__counted_by_ptr", "__nonstring",
    "__no_kcsan", "__no_sanitize_address", "noinstr", "__cpuidle",
    "__fastpath_inline", "__always_used", "__used", "__meminit", "__devinit",
    "__devexit", "__exit_p", "__deprecated", "__randomize_layout",
    "__no_randomize_layout", "__cacheline_aligned", "____cacheline_aligned",
    "__cacheline_aligned_in_smp", "____cacheline_aligned_in_smp", "__user_rcu",
)
# Annotations that take a parenthesised argument list.
ANNOTATION_CALLS = (
    "__acquires", "__releases", "__must_hold", "__free", "__cleanup",
    "__printf", "__scanf", "__attribute__", "__attribute", "__section",
    "__aligned", "__counted_by", "__counted_by_le", "__counted_by_be",
    "__guarded_by", "__pt_guarded_by", "__alloc_size", "__assume_aligned",
    "__diag_ignore", "__no_sanitize_or_inline", "__must_be_array",
    "__cond_acquires", "__cond_lock", "__acquire", "__release",
    "__nocfi", "__designated_init", "__aligned_largest",
)

def _prefixed(words, prefix: bytes) -> list[re.Pattern]:
    """Patterns matching ``words`` up to a word end, each starting with a
    literal, which the regex engine searches for fast (an alternation behind
    a leading \\b is tried at every position: ten times slower on kernel
    files).  The word start is checked by _starts_word."""
    with_prefix = sorted((w.encode()[len(prefix):] for w in words if w.encode().startswith(prefix)),
                         key=len, reverse=True)
    patterns = [re.compile(re.escape(prefix) + rb"(?:" + rb"|".join(map(re.escape, with_prefix)) + rb")\b")
                ] if with_prefix else []
    patterns += [re.compile(re.escape(w.encode()) + rb"\b") for w in words if not w.encode().startswith(prefix)]
    return patterns


_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _starts_word(data: bytes | bytearray, at: int) -> bool:
    return at == 0 or data[at - 1] not in _WORD_BYTES


_WORD_RES = _prefixed(ANNOTATION_WORDS, b"__")
_CALL_RES = [re.compile(p.pattern + rb"\s*\(") for p in _prefixed(ANNOTATION_CALLS, b"__")]
# Searched from its '#' like extract._INCLUDE_RE: a line-start anchor would
# make the regex engine try every position of the file.
_DIRECTIVE_RE = re.compile(rb"#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b")
_IF0_RE = re.compile(rb"[ \t]*#[ \t]*if[ \t]+0[ \t]*(?:$|/[*/])", re.M)
_NONCODE_RE = re.compile(rb'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


# bytes.translate table: every byte to a space, but line ends
_TO_SPACES = bytes(b if b in (10, 13) else 32 for b in range(256))


def _blank(buf: bytearray, start: int, end: int) -> None:
    buf[start:end] = buf[start:end].translate(_TO_SPACES)


def _matching_paren(data: bytes | bytearray, open_at: int) -> int:
    """Index just past the parenthesis that closes the one at ``open_at``."""
    depth = 0
    limit = min(len(data), open_at + 4096)   # annotations are short; never scan a whole file
    for i in range(open_at, limit):
        c = data[i]
        if c == 40:
            depth += 1
        elif c == 41:
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def blank_annotations(buf: bytearray) -> None:
    calls = sorted((m for rx in _CALL_RES for m in rx.finditer(buf) if _starts_word(buf, m.start())),
                   key=lambda m: m.start())
    for m in calls:
        end = _matching_paren(buf, m.end() - 1)
        if end > 0:
            _blank(buf, m.start(), end)
    for rx in _WORD_RES:
        for m in rx.finditer(buf):
            if _starts_word(buf, m.start()):
                _blank(buf, m.start(), m.end())


def _code_only(data: bytes) -> bytes:
    """Comments and string/char literals replaced by spaces (same length)."""
    return _NONCODE_RE.sub(lambda m: m.group(0).translate(_TO_SPACES), data)


def _directive_lines(code: bytes) -> list[tuple[int, bytes]]:
    """(start of line, keyword) of each conditional directive, the '#' first on its line."""
    found = []
    for m in _DIRECTIVE_RE.finditer(code):
        line_start = code.rfind(b"\n", 0, m.start()) + 1
        if not code[line_start:m.start()].strip(b" \t"):
            found.append((line_start, m.group(1)))
    return found


def keep_first_branch_of_split_groups(buf: bytearray) -> None:
    if not _DIRECTIVE_RE.search(buf):
        return
    code = _code_only(bytes(buf))
    directives = _directive_lines(code)
    if not directives:
        return
    # Paren depth and brace depth at each directive, counting code only.
    depth_paren = []
    depth_brace = []
    paren = brace = 0
    pos = 0
    for start, _ in directives:
        chunk = code[pos:start]
        paren += chunk.count(b"(") - chunk.count(b")")
        brace += chunk.count(b"{") - chunk.count(b"}")
        depth_paren.append(paren)
        depth_brace.append(brace)
        pos = start
    # Group the directives: each group is [if, elif/else..., endif].
    stack: list[list[int]] = []
    groups: list[list[int]] = []
    for i, (_, kind) in enumerate(directives):
        if kind in (b"if", b"ifdef", b"ifndef"):
            stack.append([i])
        elif not stack:
            continue
        elif kind in (b"elif", b"else"):
            stack[-1].append(i)
        else:
            group = stack.pop()
            group.append(i)
            groups.append(group)
    for group in groups:
        first = directives[group[0]][0]
        if _IF0_RE.match(code, first):
            # `#if 0`: dead code, often not even C; keep the #else branch if any.
            _blank(buf, first, directives[group[1]][0])
            for idx in group[1:]:
                start = directives[idx][0]
                _blank(buf, start, _directive_end(buf, start))
            continue
        inside_parens = depth_paren[group[0]] > 0
        unbalanced = any(depth_brace[b] - depth_brace[a] != 0 for a, b in zip(group, group[1:]))
        if not (inside_parens or unbalanced):
            continue
        # Blank every directive line of the group and all branches but the first.
        for idx in group:
            start = directives[idx][0]
            _blank(buf, start, _directive_end(buf, start))
        if len(group) > 2:
            _blank(buf, _directive_end(buf, directives[group[1]][0]), directives[group[-1]][0])


def _directive_end(buf: bytearray, start: int) -> int:
    """End of a directive line, following backslash continuations."""
    i = start
    n = len(buf)
    while True:
        nl = buf.find(b"\n", i)
        if nl < 0:
            return n
        if nl > 0 and buf[nl - 1] == 92:   # backslash
            i = nl + 1
            continue
        return nl


def prepare(source: bytes) -> bytes:
    buf = bytearray(source)
    keep_first_branch_of_split_groups(buf)
    blank_annotations(buf)
    return bytes(buf)
