"""Fetch and unpack Debian's linux-source-X packages (outside the repository)."""
from __future__ import annotations

import glob
import os
import subprocess
import tempfile


def ensure_tree(kernels: str, version: str) -> str:
    """~/kernels/linux-source-<version>, downloaded with apt-get once."""
    tree = os.path.join(kernels, f"linux-source-{version}")
    if os.path.isdir(os.path.join(tree, "drivers")):
        return tree
    os.makedirs(kernels, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=kernels) as tmp:
        subprocess.run(["apt-get", "download", f"linux-source-{version}"], cwd=tmp, check=True)
        deb = glob.glob(os.path.join(tmp, "*.deb"))[0]
        subprocess.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "x")], check=True)
        tarball = glob.glob(os.path.join(tmp, "x/usr/src/linux-source-*.tar.*"))[0]
        subprocess.run(["tar", "xf", tarball, "-C", kernels], check=True)
    return tree
