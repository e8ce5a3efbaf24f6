"""Messy trees: every odd file is counted with its reason, the scan goes on, exit codes keep their meaning."""
import json
import os
import subprocess
import sys

import pytest

from fencecheck.analyzer import pipeline
from fencecheck.analyzer.config import Config
from fencecheck.analyzer.discover import UsageError, discover
from fencecheck.analyzer.pipeline import scan

GOOD = {"drivers/gpu/drm/ok/ok.c": """
    static struct dma_fence *ok_run(struct drm_sched_job *job) { return kzalloc(8, GFP_KERNEL); }
    static const struct drm_sched_backend_ops ok_ops = { .run_job = ok_run };
"""}


def reasons(result):
    return {s.rel: s.reason for s in result.skipped}


def test_odd_files_are_counted_and_the_scan_goes_on(tree, tmp_path):
    root = tree(GOOD)
    d = os.path.join(root, "drivers/gpu/drm/ok")
    with open(os.path.join(d, "bom.c"), "wb") as fh:        # BOM and non-UTF-8 bytes still parse
        fh.write(b"\xef\xbb\xbfvoid bom(void) { x(\"\xff\xfe\"); }\n")
    with open(os.path.join(d, "nul.c"), "wb") as fh:
        fh.write(b"{" + b"\0" * 4096)
    open(os.path.join(d, "empty.c"), "w").close()
    os.symlink("missing.c", os.path.join(d, "broken.c"))
    os.symlink(str(tmp_path), os.path.join(d, "loop"))        # a directory loop back to the root's parent
    outside = tmp_path.parent / "outside.c"
    outside.write_text("void outside(void) { }\n")
    os.symlink(str(outside), os.path.join(d, "outside.c"))
    os.mkfifo(os.path.join(d, "fifo.c"))
    os.mkdir(os.path.join(d, "dir.c"))
    result = scan(["drivers"], root, Config(), jobs=1)
    got = reasons(result)
    assert got["drivers/gpu/drm/ok/nul.c"] == "binary"
    assert got["drivers/gpu/drm/ok/empty.c"] == "no-code"
    assert got["drivers/gpu/drm/ok/broken.c"] == "broken-symlink"
    assert got["drivers/gpu/drm/ok/outside.c"] == "symlink-outside-root"
    assert got["drivers/gpu/drm/ok/fifo.c"] == "not-a-regular-file"
    assert got["drivers/gpu/drm/ok/loop"] == "symlink-loop"
    assert got["drivers/gpu/drm/ok/dir.c"] == "not-a-regular-file"
    assert "drivers/gpu/drm/ok/bom.c" not in got
    assert [f.entry for f in result.findings] == ["ok_run"]


def test_unreadable_file(tree):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    root = tree({**GOOD, "drivers/gpu/drm/ok/secret.c": "void s(void) { }\n"})
    os.chmod(os.path.join(root, "drivers/gpu/drm/ok/secret.c"), 0)
    assert reasons(scan(["drivers"], root, Config(), jobs=1))["drivers/gpu/drm/ok/secret.c"] == "unreadable"


def test_permission_denied_while_reading(tree, monkeypatch):
    """What root cannot see with chmod (CI runs as root): open() failing with EACCES."""
    root = tree({**GOOD, "drivers/gpu/drm/ok/secret.c": "void s(void) { }\n"})
    real_open = os.open

    def deny_secret(path, flags, *args, **kwargs):
        if str(path).endswith("secret.c"):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(os, "open", deny_secret)
    result = scan(["drivers"], root, Config(), jobs=1)
    assert reasons(result)["drivers/gpu/drm/ok/secret.c"] == "unreadable"
    assert [f.entry for f in result.findings] == ["ok_run"]      # the scan went on


def test_file_deleted_after_discovery(tree, monkeypatch):
    root = tree({**GOOD, "drivers/gpu/drm/ok/gone.c": "void g(void) { }\n"})
    real = pipeline.discover

    def discover_then_delete(paths, r):
        found = real(paths, r)
        os.unlink(os.path.join(root, "drivers/gpu/drm/ok/gone.c"))
        return found
    monkeypatch.setattr(pipeline, "discover", discover_then_delete)
    assert reasons(scan(["drivers"], root, Config(), jobs=1))["drivers/gpu/drm/ok/gone.c"] == "vanished"


def test_missing_path_is_a_usage_error(tree):
    root = tree(GOOD)
    with pytest.raises(UsageError):
        discover(["nope"], root)


def test_skips_reach_sarif_notifications(tree):
    root = tree(GOOD)
    os.symlink("missing.c", os.path.join(root, "drivers/gpu/drm/ok/broken.c"))
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.run([sys.executable, "-m", "fencecheck.cli", "scan", "drivers", "--no-cache", "--format", "sarif"],
                       cwd=root, env=env, capture_output=True, text=True)
    assert p.returncode == 1
    notes = json.loads(p.stdout)["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["message"]["text"] for n in notes] == ["skipped drivers/gpu/drm/ok/broken.c: broken-symlink"]


@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_interrupted_scan_leaves_no_output(tree, sig, code):
    import signal
    import time
    files = {f"drivers/gpu/drm/big/f{i}.c": "void f%d(void) { %s }\n" % (i, "g(); " * 2000) for i in range(600)}
    root = tree({**GOOD, **files})
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.Popen([sys.executable, "-m", "fencecheck.cli", "scan", "drivers", "--no-cache", "-j", "1",
                          "--format", "sarif", "--output", "out.sarif"], cwd=root, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(3.0)   # past start-up (handlers installed), well before the scan ends
    p.send_signal(getattr(signal, sig))
    p.wait(timeout=60)
    assert p.returncode == code
    assert not [n for n in os.listdir(root) if n.endswith((".sarif", ".tmp"))]


@pytest.mark.parametrize("sig,code", [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_whose_exception_was_lost_still_stops_the_output(tree, monkeypatch, sig, code):
    """The exception a signal raises can be lost (raised while Python
    finalises an abandoned generator, it is only printed): the scan then
    ends normally, and the output must still not be written."""
    import signal
    from fencecheck import cli
    root = tree(GOOD)

    def scan_losing_a_signal(*args, **kwargs):
        try:
            os.kill(os.getpid(), getattr(signal, sig))
        except BaseException:
            pass
        return scan(*args, **kwargs)
    monkeypatch.setattr(cli, "scan", scan_losing_a_signal)
    out = os.path.join(root, "out.sarif")
    assert cli.main(["scan", os.path.join(root, "drivers"), "--root", root, "--no-cache", "-j", "1",
                     "--format", "sarif", "--output", out]) == code
    assert not [n for n in os.listdir(root) if n.endswith((".sarif", ".tmp"))]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
