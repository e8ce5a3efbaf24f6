"""Source lines of scanned files, read once, for columns, suppressions and fingerprints."""
from __future__ import annotations

import os

from .fingerprints import line_hashes


class SourceLines:
    def __init__(self, root: str):
        self.root = root
        self._contents: dict[str, bytes | None] = {}
        self._files: dict[str, list[bytes] | None] = {}
        self._hashes: dict[str, list[str]] = {}

    def line(self, file: str, line: int) -> bytes:
        """Raw bytes of a 1-based line, b"" when the file or line is gone."""
        lines = self._files.get(file, False)
        if lines is False:
            data = self._content(file)
            lines = self._files[file] = data.split(b"\n") if data is not None else None
        if not lines or not 0 < line <= len(lines):
            return b""
        return lines[line - 1]

    def mentions(self, file: str, word: bytes) -> bool:
        data = self._content(file)
        return data is not None and word in data

    def _content(self, file: str) -> bytes | None:
        if file not in self._contents:
            try:
                with open(os.path.join(self.root, file), "rb") as fh:
                    self._contents[file] = fh.read()
            except OSError:
                self._contents[file] = None
        return self._contents[file]

    def utf16_column(self, file: str, line: int, byte_col: int) -> int:
        """1-based UTF-16 code unit column (SARIF, GitHub) of a 0-based byte column."""
        prefix = self.line(file, line)[:byte_col].decode("utf-8", "replace")
        return len(prefix.encode("utf-16-le")) // 2 + 1

    def line_hash(self, file: str, line: int) -> str | None:
        """GitHub's primaryLocationLineHash of a line (None when the file is gone)."""
        if file not in self._hashes:
            self.line(file, 1)
            lines = self._files.get(file)
            self._hashes[file] = line_hashes(b"\n".join(lines).decode("utf-8", "replace")) if lines else []
        hashes = self._hashes[file]
        return hashes[line - 1] if 0 < line <= len(hashes) else None
