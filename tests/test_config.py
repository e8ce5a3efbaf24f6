"""Config is validated strictly and feeds the rules."""
import pytest

from fencecheck.analyzer.config import ConfigError, load, parse
from fencecheck.analyzer.pipeline import scan


def test_unknown_key_is_an_error():
    with pytest.raises(ConfigError, match="entriez"):
        parse({"entriez": []}, "x.toml")


def test_wrong_type_and_unknown_rule():
    with pytest.raises(ConfigError, match="entries\\[0\\].function"):
        parse({"entries": [{"function": 3}]}, "x.toml")
    with pytest.raises(ConfigError, match="unknown rule id"):
        parse({"sinks": {"no_such_rule": ["x"]}}, "x.toml")
    with pytest.raises(ConfigError, match="unknown context"):
        parse({"entries": [{"function": "f", "context": "irq"}]}, "x.toml")
    with pytest.raises(ConfigError, match="arch"):
        parse({"arch": "arch/arm64"}, "x.toml")
    assert parse({"arch": "arm64"}, "x.toml").arch == "arm64"


def test_pyproject_and_dotfile(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.fencecheck]\nentries = [{function = "a"}]\n')
    assert load(str(tmp_path)).entries[0].function == "a"
    (tmp_path / ".fencecheck.toml").write_text('entries = [{function = "b", context = "reclaim"}]\n')
    cfg = load(str(tmp_path))
    assert (cfg.entries[0].function, cfg.entries[0].context) == ("b", "reclaim")


def test_config_entries_and_wrappers_drive_the_scan(tree):
    root = tree({
        "drivers/gpu/drm/foo/foo_fault.c": """
            static void *foo_bo_alloc(struct foo *f) { return foo_pool_get(f->pool); }
            int foo_gpu_fault(struct foo *f)
            {
            	foo_bo_alloc(f);
            	foo_ring_emit(f);
            	return 0;
            }
            static const struct foo_ring_funcs ring = { .emit_fence = foo_emit };
            void foo_emit(struct foo *f) { foo_lock_all(f); }
        """,
        ".fencecheck.toml": """
            entries = [{ function = "foo_gpu_fault", context = "signalling", reason = "GPU page fault handler" }]
            ops = [{ struct = "foo_ring_funcs", field = "emit_fence", context = "signalling" }]
            [sinks]
            reclaim_alloc = ["foo_pool_get"]
            resv_lock = ["foo_lock_all"]
        """,
    })
    result = scan(["drivers"], root, load(root), jobs=1)
    got = sorted((f.rule, f.entry, f.location.line) for f in result.findings)
    assert got == [("reclaim_alloc", "foo_gpu_fault", 5), ("resv_lock", "foo_emit", 10)]
    assert "GPU page fault handler" in result.findings[0].entry_how or "GPU page fault handler" in \
        result.findings[1].entry_how


def test_readme_config_example_is_valid():
    import os
    import re
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    readme = open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")).read()
    block = re.search(r"```toml\n(\[tool\.fencecheck\].*?)```", readme, re.S).group(1)
    cfg = parse(tomllib.loads(block)["tool"]["fencecheck"], "README.md")
    assert cfg.entries and cfg.ops and cfg.suppress and cfg.sinks["reclaim_alloc"]["foo_pool_get"] == 1
