"""GitHub code scanning's primaryLocationLineHash, computed as its upload action does.

A rolling hash (base 37, 64-bit wrap-around) over the first 100 characters
(UTF-16 code units) that follow the start of each line, spaces and tabs
skipped and CR/CRLF read as LF; identical hashes are numbered ":1", ":2"...
Computing it here means results keep their identity across uploads even when
the action cannot read the sources.  Tested on the action's own vectors.
"""
from __future__ import annotations

BLOCK_SIZE = 100
MOD = 37
MASK = (1 << 64) - 1
_TAB, _SPACE, _LF, _CR, _EOF = 9, 32, 10, 13, 65535
_FIRST_MOD = pow(MOD, BLOCK_SIZE, 1 << 64)


def line_hashes(text: str) -> list[str]:
    """Hash of every line of ``text``, in order (line 1 first)."""
    window = [0] * BLOCK_SIZE
    line_at = [-1] * BLOCK_SIZE           # window slot -> line that starts there
    state = {"hash": 0, "index": 0, "line": 0, "line_start": True, "prev_cr": False}
    counts: dict[str, int] = {}
    out: dict[int, str] = {}

    def emit() -> None:
        value = format(state["hash"], "x")
        counts[value] = counts.get(value, 0) + 1
        out[line_at[state["index"]]] = f"{value}:{counts[value]}"
        line_at[state["index"]] = -1

    def push(unit: int) -> None:
        i = state["index"]
        oldest = window[i]
        window[i] = unit
        state["hash"] = (MOD * state["hash"] + unit - _FIRST_MOD * oldest) & MASK
        state["index"] = (i + 1) % BLOCK_SIZE

    def feed(unit: int) -> None:
        if unit in (_SPACE, _TAB) or (state["prev_cr"] and unit == _LF):
            state["prev_cr"] = False
            return
        state["prev_cr"] = unit == _CR
        if unit == _CR:
            unit = _LF
        if line_at[state["index"]] != -1:
            emit()
        if state["line_start"]:
            state["line_start"] = False
            state["line"] += 1
            line_at[state["index"]] = state["line"]
        if unit == _LF:
            state["line_start"] = True
        push(unit)

    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        feed(data[i] | (data[i + 1] << 8))
    feed(_EOF)
    for _ in range(BLOCK_SIZE):
        if line_at[state["index"]] != -1:
            emit()
        push(0)
    return [out[n] for n in sorted(out)]
