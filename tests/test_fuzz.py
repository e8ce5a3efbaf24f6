"""Property-based robustness: generated C, random bytes and truncated fixtures
never raise out of the extractor or the scan, and every position stays inside
its file.  FENCECHECK_FUZZ_EXAMPLES raises the example count for a long run."""
import glob
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fencecheck.analyzer.config import Config
from fencecheck.analyzer.extract import extract_source
from fencecheck.analyzer.pipeline import scan

EXAMPLES = int(os.environ.get("FENCECHECK_FUZZ_EXAMPLES", "60"))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = sorted(glob.glob(os.path.join(REPO, "fixtures", "**", "*.[ch]"), recursive=True))
FUZZ = settings(max_examples=EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

NAMES = st.sampled_from(["foo", "bar", "kmalloc", "dma_resv_lock", "mutex_lock", "run", "x", "guard", "scoped_guard",
                         "list_for_each_entry", "dma_fence_begin_signalling", "dma_fence_end_signalling"])
TOKENS = st.sampled_from(["{", "}", "(", ")", ";", ",", "if", "else", "while", "for", "do", "return", "goto out",
                          "out:", "static", "int", "void", "*", "&", "->", ".", "=", "GFP_KERNEL", "GFP_NOWAIT",
                          "#ifdef X\n", "#else\n", "#endif\n", "#if 0\n", "#define M(a) a\n", "?", ":", "&&",
                          "__init", "__user", "__acquires(l)", "\"str\"", "'c'", "/* c */", "\n", "[", "]", "0"])
FRAGMENT = st.lists(st.one_of(NAMES, TOKENS), max_size=120).map(" ".join)


def _positions_inside(facts, source: bytes) -> None:
    lines = source.split(b"\n")
    for fn in facts.functions:
        assert 1 <= fn.line <= fn.end_line <= len(lines)
        for call in fn.calls:
            assert fn.line <= call.line <= fn.end_line
            assert 0 <= call.col <= len(lines[call.line - 1])
    for b in facts.bindings:
        assert 1 <= b.line <= len(lines)


@FUZZ
@given(FRAGMENT)
def test_generated_c(text):
    source = text.encode()
    _positions_inside(extract_source("gen.c", source), source)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    _positions_inside(extract_source("rand.c", data), data)


@FUZZ
@given(st.sampled_from(FIXTURES), st.floats(min_value=0, max_value=1))
def test_truncated_fixtures(path, fraction):
    data = open(path, "rb").read()
    cut = data[: int(len(data) * fraction)]
    _positions_inside(extract_source("cut.c", cut), cut)


@FUZZ
@given(st.lists(st.tuples(FRAGMENT, st.binary(max_size=256)), min_size=1, max_size=4))
def test_whole_scan(tmp_path_factory, files):
    root = tmp_path_factory.mktemp("fuzz")
    d = root / "drivers" / "gpu" / "drm" / "fz"
    d.mkdir(parents=True)
    for i, (text, noise) in enumerate(files):
        (d / f"f{i}.c").write_bytes(text.encode() + noise)
    result = scan(["drivers"], str(root), Config(), jobs=1)
    for f in result.findings:
        for step in f.steps + f.related:
            assert (root / step.file).is_file()
