"""Source lines of scanned files, read once, for columns, suppressions and fingerprints."""
from __future__ import annotations

import os


class SourceLines:
    def __init__(self, root: str):
        self.root = root
        self._files: dict[str, list[bytes] | None] = {}

    def line(self, file: str, line: int) -> bytes:
        """Raw bytes of a 1-based line, b"" when the file or line is gone."""
        lines = self._files.get(file, False)
        if lines is False:
            try:
                with open(os.path.join(self.root, file), "rb") as fh:
                    lines = fh.read().split(b"\n")
            except OSError:
                lines = None
            self._files[file] = lines
        if not lines or not 0 < line <= len(lines):
            return b""
        return lines[line - 1]

    def utf16_column(self, file: str, line: int, byte_col: int) -> int:
        """1-based UTF-16 code unit column (SARIF, GitHub) of a 0-based byte column."""
        prefix = self.line(file, line)[:byte_col].decode("utf-8", "replace")
        return len(prefix.encode("utf-16-le")) // 2 + 1
