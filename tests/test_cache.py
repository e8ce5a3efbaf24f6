"""Facts cache and changed-files mode: same answers, corrupt caches rebuilt, not trusted."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from fencecheck.analyzer.config import Config
from fencecheck.analyzer.pipeline import scan

DRIVER = {
    "drivers/gpu/drm/foo/foo_sched.c": """
        static struct dma_fence *foo_run_job(struct drm_sched_job *job)
        {
        	foo_fence_create(job);
        	return NULL;
        }
        static const struct drm_sched_backend_ops foo_sched_ops = { .run_job = foo_run_job };
    """,
    "drivers/gpu/drm/foo/foo_fence.c": """
        void *foo_fence_create(struct drm_sched_job *job)
        {
        	return kzalloc(64, GFP_KERNEL);
        }
    """,
    "drivers/gpu/drm/foo/foo_regs.h": "#define FOO_REG 0x10\n",
}


def forbid(monkeypatch, stage: str) -> None:
    """Make a pipeline stage fail the test if the scan reaches it."""
    from fencecheck.analyzer import pipeline
    monkeypatch.setattr(pipeline, stage, lambda *a: (_ for _ in ()).throw(AssertionError(stage)))


def findings(result):
    return [(f.rule, f.entry, f.location.file, f.location.line, f.steps) for f in result.findings]


def test_warm_scan_parses_nothing_and_answers_the_same(tree, tmp_path, monkeypatch):
    root = tree(DRIVER)
    cache_dir = str(tmp_path / "cache")
    cold = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    forbid(monkeypatch, "extract_source")
    warm = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    assert findings(warm) == findings(cold) and len(cold.findings) == 1
    assert warm.stats.skipped == cold.stats.skipped == {"no-code": 1}


def test_words_repeated_across_files_are_one_object(tmp_path):
    """Callee names and arguments are interned, and stay so through the
    worker transfer and the cache: a whole tree holds one "GFP_KERNEL"."""
    from fencecheck.analyzer.cache import FactsCache
    from fencecheck.analyzer.discover import discover
    from fencecheck.analyzer.pipeline import extract_all
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = discover(["fixtures"], repo)
    for attempt in ("parsed by 2 workers", "read from the cache"):
        cache = FactsCache.open(str(tmp_path), repo)
        facts = extract_all(found.files, 2, cache)
        cache.save()
        calls = [c for f in facts for fn in f.functions for c in fn.calls]
        callees = [c.callee for c in calls if c.callee == "kfree"]
        # a call's arguments are kept as one string (facts.Calls): stored, not split
        stored = [(f.path, tuple.__getitem__(fn.calls, 3 + 2 * i)) for f in facts for fn in f.functions
                  for i in range(len(fn.calls))]
        masks = [a for _, a in stored if a == "GFP_KERNEL"]
        assert len({path for path, a in stored if a == "GFP_KERNEL"}) > 1
        assert len({f.path for f in facts for fn in f.functions for c in fn.calls if c.callee == "kfree"}) > 5
        assert len({id(x) for x in callees}) == 1, attempt
        assert len({id(x) for x in masks}) == 1, attempt


def test_loading_keeps_no_shard_it_is_done_with(tree, tmp_path):
    """Extraction writes a shard once its last file is stored, and loading
    drops a shard once its last file is read, unless it holds facts not saved
    yet: a tree's shards are never all in memory beside the facts decoded
    from them."""
    from fencecheck.analyzer.cache import FactsCache
    from fencecheck.analyzer.discover import discover
    from fencecheck.analyzer.pipeline import check_cache, extract_all
    root = tree({**DRIVER, "drivers/gpu/drm/bar/bar.c": "void bar(void) { foo_fence_create(0); }\n"})
    found = discover(["drivers"], root)
    cache = FactsCache.open(str(tmp_path), root)
    extract_all(found.files, 1, cache)
    assert cache.shards == {} and cache.dirty_shards == set()      # each written once its files were
    cache.save()
    cache = FactsCache.open(str(tmp_path), root)
    hashes = check_cache(found.files, cache).hashes
    loaded_while_reading = []
    for rel, entry in cache.entries(hashes):
        assert entry is not None
        loaded_while_reading.append(len(cache.shards))
    assert loaded_while_reading == [1, 1, 1, 1] and cache.shards == {}     # bar/, then foo/ alone
    bar = next(f for f in found.files if f.rel.endswith("bar.c"))
    cache.store(bar.rel, bar.stamp, hashes[bar.rel], "?", ("S", "no-code", ""))     # unsaved
    list(cache.entries(hashes))
    assert len(cache.shards) == 1


def test_changed_file_is_reparsed(tree, tmp_path):
    root = tree(DRIVER)
    cache_dir = str(tmp_path / "cache")
    scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    path = os.path.join(root, "drivers/gpu/drm/foo/foo_fence.c")
    with open(path, "w") as fh:
        fh.write("void *foo_fence_create(struct drm_sched_job *job)\n{\n\treturn kzalloc(64, GFP_NOWAIT);\n}\n")
    os.utime(path, ns=(1, 1))     # a new mtime even on coarse clocks
    assert scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir).findings == []


def _edit(root, rel, text_of):
    path = os.path.join(root, rel)
    with open(path) as fh:
        text = fh.read()
    with open(path, "w") as fh:
        fh.write(text_of(text))
    os.utime(path, ns=(1, 1))     # a new mtime even on coarse clocks


def test_edit_that_changes_no_fact_reuses_the_result(tree, tmp_path, monkeypatch):
    """A comment appended or a file touched: parsed again, not analysed
    again; the result, line count included, is that of a scan without a cache."""
    root = tree(DRIVER)
    cache_dir = str(tmp_path / "cache")
    cold = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    from fencecheck.analyzer import pipeline
    real_analyse = pipeline.analyse
    analysed = []
    monkeypatch.setattr(pipeline, "analyse", lambda *a: analysed.append(1) or real_analyse(*a))
    rel = "drivers/gpu/drm/foo/foo_fence.c"
    for edit in (lambda text: text + "/* a comment\n   over two lines */\n", lambda text: text):
        _edit(root, rel, edit)
        warm = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
        uncached = scan(["drivers"], root, Config(), jobs=1)
        assert len(analysed) == 1      # the scan without a cache only
        analysed.clear()
        assert findings(warm) == findings(uncached) and len(warm.findings) == 1
        assert warm.stats == uncached.stats
        assert warm.stats.lines == cold.stats.lines + 2     # the comment's lines are counted


def test_edit_that_moves_a_call_is_analysed_again(tree, tmp_path):
    root = tree(DRIVER)
    cache_dir = str(tmp_path / "cache")
    before = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    _edit(root, before.findings[0].location.file, lambda text: "/* a comment */\n" + text)
    after = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    assert [f.location.line for f in after.findings] == [f.location.line + 1 for f in before.findings]


def test_analysed_digest_is_the_same_from_workers_and_inline(tmp_path):
    """Equal facts give equal digests however they were extracted, or every
    scan on another -j would miss the result cache."""
    from fencecheck.analyzer.cache import FactsCache
    from fencecheck.analyzer.discover import discover
    from fencecheck.analyzer.pipeline import extract_all
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = discover(["fixtures"], repo)
    digests = []
    for jobs in (1, 2):
        cache = FactsCache.open(str(tmp_path / str(jobs)), repo)
        extract_all(found.files, jobs, cache)
        digests.append({rel: row[3] for rel, row in cache.index.items()})
    assert len(digests[0]) > 16 and digests[0] == digests[1]


def _cache_files(cache_dir):
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(cache_dir) for f in fs)


def test_corrupt_truncated_and_foreign_caches_are_rebuilt(tree, tmp_path):
    root = tree(DRIVER)
    cache_dir = str(tmp_path / "cache")
    good = findings(scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir))
    files = _cache_files(cache_dir)
    # the index, one facts shard for the driver's directory, the result
    assert [os.path.relpath(f, cache_dir).split("/")[0] for f in files] == ["facts", "index.bin", "results"]
    for cache_file in files:
        blob = open(cache_file, "rb").read()
        header, rest = blob.split(b"\n", 1)[0] + b"\n", blob.split(b"\n", 1)[1]
        kind = rest.split(b":", 1)[0]
        bad_versions = [blob[: len(blob) // 2], os.urandom(4096), header + kind + b":0000\n" + rest.split(b"\n", 1)[1],
                        blob[:-10] + b"0123456789"]
        for bad in bad_versions:
            with open(cache_file, "wb") as fh:
                fh.write(bad)
            if "/facts/" in cache_file:     # an unchanged tree's result needs no facts: make it need them
                for stale in _cache_files(os.path.join(cache_dir, "results")):
                    os.unlink(stale)
            result = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
            assert findings(result) == good, cache_file
            assert any("rebuilding" in n for n in result.stats.notes), (cache_file, result.stats.notes)
            # and the rebuilt cache is whole again: the next scan has nothing to say
            again = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
            assert again.stats.notes == [] and findings(again) == good


def test_unchanged_tree_is_answered_from_the_result_cache(tree, tmp_path, monkeypatch):
    root = tree(DRIVER)
    cache_dir = str(tmp_path / "cache")
    cold = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    forbid(monkeypatch, "analyse")
    warm = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    assert findings(warm) == findings(cold) and warm.stats == cold.stats
    # another configuration is another result

    with pytest.raises(AssertionError, match="analyse"):
        scan(["drivers"], root, Config(disable=("held_lock",)), jobs=1, cache_dir=cache_dir)


def test_edited_rule_reuses_the_facts(tree, tmp_path, monkeypatch):
    """A rule or engine edit (or an upgrade) redoes the analysis, not the parsing."""
    from fencecheck.analyzer import cache, pipeline
    root = tree(DRIVER)
    cache_dir = str(tmp_path / "cache")
    cold = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    edited = str(tmp_path / "package")
    shutil.copytree(cache.PACKAGE, edited, ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(edited, "rules", "reclaim_alloc.py"), "a") as fh:
        fh.write("# edited\n")
    monkeypatch.setattr(cache, "PACKAGE", edited)
    cache.code_version.cache_clear()
    try:
        forbid(monkeypatch, "extract_source")
        real_analyse = pipeline.analyse
        analysed = []
        monkeypatch.setattr(pipeline, "analyse", lambda *a: analysed.append(1) or real_analyse(*a))
        warm = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    finally:
        cache.code_version.cache_clear()
    assert analysed and findings(warm) == findings(cold) and len(cold.findings) == 1


def test_scanning_part_of_the_tree_keeps_the_rest_cached(tree, tmp_path, monkeypatch):
    root = tree({**DRIVER, "drivers/misc/bar/bar.c": "void bar(void) { kmalloc(1, GFP_KERNEL); }\n"})
    cache_dir = str(tmp_path / "cache")
    scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    path = os.path.join(root, "drivers/gpu/drm/foo/foo_fence.c")
    with open(path, "a") as fh:
        fh.write("/* changed */\n")
    scan(["drivers/gpu"], root, Config(), jobs=1, cache_dir=cache_dir)
    forbid(monkeypatch, "extract_source")
    assert scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir).stats.files_parsed == 3


def test_read_only_cache_dir_is_bypassed(tree, tmp_path):
    if os.geteuid() == 0:
        # root ignores permissions: use a path under a regular file instead
        blocker = tmp_path / "file"
        blocker.write_text("")
        cache_dir = str(blocker / "cache")
    else:
        cache_dir = str(tmp_path / "ro")
        os.mkdir(cache_dir, 0o500)
    root = tree(DRIVER)
    result = scan(["drivers"], root, Config(), jobs=1, cache_dir=cache_dir)
    assert len(result.findings) == 1
    assert any("not written" in n for n in result.stats.notes)


def test_changed_files_mode_reports_paths_through_the_file(tree):
    root = tree(DRIVER)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "fencecheck.cli", "scan", "--no-cache", "--format", "json",
                               "--root", root, *args], cwd=root, env=env, capture_output=True, text=True)
    through = run("drivers/gpu/drm/foo/foo_fence.c")
    assert through.returncode == 1 and len(json.loads(through.stdout)["findings"]) == 1
    with open(os.path.join(root, "drivers/gpu/drm/foo/other.c"), "w") as fh:
        fh.write("void other(void) { }\n")
    elsewhere = run("drivers/gpu/drm/foo/other.c")
    assert elsewhere.returncode == 0 and json.loads(elsewhere.stdout)["findings"] == []


def test_since_revision(tree):
    root = tree(DRIVER)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    git = lambda *a: subprocess.run(["git", *a], cwd=root, env=env, check=True, capture_output=True)
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "base")
    run = lambda: subprocess.run([sys.executable, "-m", "fencecheck.cli", "scan", "--no-cache", "--root", root,
                                  "--since", "HEAD"], cwd=root, env=env, capture_output=True, text=True)
    assert run().returncode == 0            # nothing changed since HEAD
    path = os.path.join(root, "drivers/gpu/drm/foo/foo_fence.c")
    with open(path, "a") as fh:
        fh.write("/* touched */\n")
    p = run()
    assert p.returncode == 1 and "foo_fence.c" in p.stdout
