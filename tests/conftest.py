import os
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)


@pytest.fixture
def tree(tmp_path):
    """Write {relative path: C source} into a temporary tree and return its root."""
    def make(files: dict[str, str]) -> str:
        for rel, text in files.items():
            p = tmp_path / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text))
        return str(tmp_path)
    return make
