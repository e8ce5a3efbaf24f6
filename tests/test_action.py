"""The composite action's own scan step, run as GitHub would run it (setup-python
and upload-sarif are GitHub's and not run here)."""
import json
import os
import re
import subprocess
import sys

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scan_step_script(inputs: dict) -> str:
    with open(os.path.join(REPO, "action.yml")) as fh:
        action = yaml.safe_load(fh)
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "scan")
    defaults = {k: v.get("default", "") for k, v in action["inputs"].items()}
    values = {**defaults, **inputs}
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m.group(1)], step["run"])


def test_action_scan_step_writes_sarif_and_outputs(tmp_path):
    out = tmp_path / "github_output"
    env = dict(os.environ, GITHUB_OUTPUT=str(out),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    script = _scan_step_script({"paths": "fixtures", "root": ".", "category": "fencecheck/fixtures"})
    p = subprocess.run(["bash", "-e", "-c", script], cwd=REPO, env=env, capture_output=True, text=True)
    try:
        assert p.returncode == 0, p.stderr
        outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
        sarif = json.load(open(os.path.join(REPO, "fencecheck.sarif")))
        run = sarif["runs"][0]
        assert outputs["exit-code"] == "1"
        assert int(outputs["findings"]) == len(run["results"]) > 0
        assert run["automationDetails"]["id"] == "fencecheck/fixtures"
    finally:
        if os.path.exists(os.path.join(REPO, "fencecheck.sarif")):
            os.unlink(os.path.join(REPO, "fencecheck.sarif"))


def test_action_scan_step_fails_on_usage_errors(tmp_path):
    env = dict(os.environ, GITHUB_OUTPUT=str(tmp_path / "o"),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    script = _scan_step_script({"paths": "no/such/path"})
    p = subprocess.run(["bash", "-e", "-c", script], cwd=str(tmp_path), env=env, capture_output=True, text=True)
    assert p.returncode == 2
