"""Baselines survive moved lines; suppressions are counted and kept in SARIF, never dropped."""
import json
import os
import subprocess
import sys

DRIVER = {
    "drivers/gpu/drm/foo/foo.c": """\
static struct dma_fence *foo_run_job(struct drm_sched_job *job)
{
	void *a = kzalloc(64, GFP_KERNEL);
	void *b = kmalloc(32, GFP_KERNEL);
	return NULL;
}
static const struct drm_sched_backend_ops foo_ops = { .run_job = foo_run_job };
""",
}
ENV = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fc(root, *args):
    return subprocess.run([sys.executable, "-m", "fencecheck.cli", *args, "--no-cache"], cwd=root, env=ENV,
                          capture_output=True, text=True)


def test_baseline_keeps_identity_when_lines_move(tree):
    root = tree(DRIVER)
    assert fc(root, "baseline", "write", "base.json", "drivers").returncode == 0
    path = os.path.join(root, "drivers/gpu/drm/foo/foo.c")
    text = open(path).read()
    # unrelated edits move every line down, and a new violation appears
    text = "/* header */\n\n#include <linux/slab.h>\n" + text.replace(
        "\treturn NULL;", "\tvoid *c = vmalloc(4096);\n\treturn NULL;")
    open(path, "w").write(text)
    p = fc(root, "scan", "drivers", "--baseline", "base.json", "--format", "json")
    doc = json.loads(p.stdout)
    assert p.returncode == 1
    assert [f["sink"] for f in doc["findings"]] == ["vmalloc"]
    assert doc["summary"]["in_baseline"] == 2
    sarif = json.loads(fc(root, "scan", "drivers", "--baseline", "base.json", "--format", "sarif").stdout)
    assert [r["baselineState"] for r in sarif["runs"][0]["results"]] == ["new"]


def test_fixed_baseline_finding_is_not_new_and_clean_exit(tree):
    root = tree(DRIVER)
    fc(root, "baseline", "write", "base.json", "drivers")
    assert fc(root, "scan", "drivers", "--baseline", "base.json").returncode == 0


def test_inline_and_config_suppressions(tree):
    files = dict(DRIVER)
    files["drivers/gpu/drm/foo/foo.c"] = files["drivers/gpu/drm/foo/foo.c"].replace(
        "kzalloc(64, GFP_KERNEL);", "kzalloc(64, GFP_KERNEL); /* fencecheck: ignore reclaim_alloc -- boot only */")
    files[".fencecheck.toml"] = ('[[suppress]]\nrule = "reclaim_alloc"\nfunction = "foo_run_job"\n'
                                 'path = "drivers/gpu/drm/foo/"\nreason = "reviewed: freed before signalling"\n')
    root = tree(files)
    p = fc(root, "scan", "drivers")
    assert p.returncode == 0 and "2 suppressed" in p.stdout
    sarif = json.loads(fc(root, "scan", "drivers", "--format", "sarif").stdout)
    sup = sorted((r["suppressions"][0]["kind"], r["suppressions"][0]["justification"])
                 for r in sarif["runs"][0]["results"])
    assert sup == [("external", "reviewed: freed before signalling"), ("inSource", "boot only")]


def test_suppression_without_reason_is_a_config_error(tree):
    files = dict(DRIVER)
    files[".fencecheck.toml"] = '[[suppress]]\nrule = "reclaim_alloc"\nfunction = "foo_run_job"\n'
    p = fc(tree(files), "scan", "drivers")
    assert p.returncode == 2 and "suppress[0].reason" in p.stderr


def test_path_command_prints_a_tree_and_dot(tree):
    root = tree(DRIVER)
    p = fc(root, "path", "foo_run_job", "drivers", "--dot", "paths.dot")
    assert p.returncode == 1
    assert "=> [reclaim_alloc] kzalloc" in p.stdout and "=> [reclaim_alloc] kmalloc" in p.stdout
    dot = open(os.path.join(root, "paths.dot")).read()
    assert dot.startswith("digraph") and '"foo_run_job" -> "kzalloc"' in dot
