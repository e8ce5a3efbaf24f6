"""Pathological C: no RecursionError, no quadratic blow-up.  Each case has a time
bound far above what it takes here (measured times in the comments), so only a
change in complexity class fails it."""
import time

from fencecheck.analyzer.config import Config
from fencecheck.analyzer.extract import extract_source
from fencecheck.analyzer.pipeline import scan

RUN_JOB = ("static const struct drm_sched_backend_ops ops = { .run_job = f0 };\n")


def timed(fn):
    start = time.monotonic()
    result = fn()
    return result, time.monotonic() - start


def test_100k_line_function():        # 1.5 s here
    body = "".join(f"\tx{i % 50}(a, {i});\n" for i in range(100_000))
    facts, took = timed(lambda: extract_source("big.c", f"void big(int a)\n{{\n{body}}}\n".encode()))
    assert len(facts.functions[0].calls) == 100_000
    assert took < 60


def test_5000_nested_blocks():        # 0.03 s here
    src = "void f(int a) {" + "if (a) {" * 5000 + "kmalloc(1, GFP_KERNEL);" + "}" * 5000 + "}\n"
    facts, took = timed(lambda: extract_source("deep.c", src.encode()))
    assert [c.callee for c in facts.functions[0].calls] == ["kmalloc"]
    assert took < 30


def test_10000_deep_call_chain_and_recursion_across_files(tree):   # 11 s here, next to another scan
    depth = 10_000
    files = {f"drivers/gpu/drm/chain/c{i // 500}.c": "" for i in range(depth)}
    for i in range(depth):
        callee = f"f{i + 1}(x);" if i + 1 < depth else "kmalloc(8, GFP_KERNEL);"
        files[f"drivers/gpu/drm/chain/c{i // 500}.c"] += f"void f{i}(int x) {{ {callee} }}\n"
    files["drivers/gpu/drm/chain/ops.c"] = RUN_JOB
    files["drivers/gpu/drm/chain/ping.c"] = "void ping(int x) { pong(x); }\n"
    files["drivers/gpu/drm/chain/pong.c"] = "void pong(int x) { ping(x); f0(x); }\n"
    root = tree(files)
    result, took = timed(lambda: scan(["drivers"], root, Config(), jobs=1))
    (finding,) = result.findings
    assert finding.sink == "f1"          # f1 always reaches the kmalloc, 10,000 calls down
    assert 200 <= len(finding.steps) < 210   # the evidence below a sink site is capped at 200 calls
    assert took < 120


def test_name_defined_500_times(tree):   # 0.14 s here
    files = {f"drivers/gpu/drm/many/m{i}.c": "void dup(int x) { kmalloc(8, GFP_KERNEL); }\n" for i in range(500)}
    files["drivers/gpu/drm/many/ops.c"] = "void f0(int x) { dup(x); }\n" + RUN_JOB
    result, took = timed(lambda: scan(["drivers"], tree(files), Config(), jobs=1))
    (f0,) = result.program.by_name["f0"]
    assert len(result.program.call_targets(f0, 0)) == 500     # every definition is linked
    (finding,) = result.findings                              # dup() always allocates: one sink site
    assert finding.sink == "dup"
    assert took < 60


def test_macro_soup_becomes_error_nodes_without_losing_the_scan():   # 0.3 s here
    soup = "".join(f"DECLARE_THING({i}, (x, y) {{ }} ] ) ;\n#define M{i}(a) a ## {i}\n" for i in range(3000))
    facts, took = timed(lambda: extract_source("soup.c", (soup + "void after(void) { tail(); }\n").encode()))
    assert took < 30
    assert facts.error_lines > 0
