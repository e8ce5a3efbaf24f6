"""The no-'{' prefilter loses no function: without a brace there is no body to find."""
from hypothesis import given, settings
from hypothesis import strategies as st

from fencecheck.analyzer.extract import extract_source
from fencecheck.analyzer.pipeline import _entry_for

TOKENS = ["int", "static", "void", "foo", "bar", "(", ")", ";", "*", ",", "#define X 1\n", "#include <a.h>\n",
          "struct s", "=", "1", "+", "return", "\n", "/* c */", "inline", "const", "[", "]", "GFP_KERNEL", "}"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_no_brace_means_no_function(tokens):
    src = " ".join(tokens).encode()
    assert b"{" not in src
    assert extract_source("a.h", src).functions == []
    assert _entry_for("a.h", src)[:2] == ("S", "no-code")


def test_register_header_is_skipped_and_a_function_is_not():
    regs = b"".join(b"#define mmREG_%d 0x%x\n" % (i, i) for i in range(5000))
    assert _entry_for("regs.h", regs)[1] == "no-code"
    entry = _entry_for("f.h", regs + b"static inline int f(void) { return 0; }\n")
    assert entry[0] == "F"
