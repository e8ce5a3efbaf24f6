"""Per-file facts cache, keyed by content hash.

One marshal file per scanned tree under ``$XDG_CACHE_HOME/fencecheck/<tree
id>/facts.bin``.  It starts with a header naming the format, the analyzer
version and a checksum of the payload; anything that does not match (a
truncated file, random bytes, another version's cache) is reported and
rebuilt, never trusted.  Writes go to a temporary file renamed into place, so
a reader never sees half a cache and two scans at once leave one whole cache.
A (mtime, size) index avoids rehashing files that did not change.
"""
from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from dataclasses import dataclass, field

from .. import __version__

MAGIC = b"FENCECHECK-FACTS\n"
# Bump when FileFacts, extraction or preprocessing change what a file yields.
FORMAT = 1


def version_key() -> str:
    return f"{FORMAT}:{__version__}"


def default_dir(root: str) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    tree_id = hashlib.blake2b(os.path.realpath(root).encode(), digest_size=8).hexdigest()
    return os.path.join(base, "fencecheck", tree_id)


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class FactsCache:
    directory: str | None
    entries: dict[str, tuple] = field(default_factory=dict)    # content hash -> encoded facts or skip
    stats: dict[str, tuple[int, int, str]] = field(default_factory=dict)   # rel -> (mtime_ns, size, hash)
    notes: list[str] = field(default_factory=list)             # diagnostics for the summary
    dirty: bool = False
    used: set[str] = field(default_factory=set)

    @property
    def path(self) -> str | None:
        return os.path.join(self.directory, "facts.bin") if self.directory else None

    @classmethod
    def open(cls, directory: str | None) -> "FactsCache":
        cache = cls(directory)
        if directory is None or not os.path.exists(cache.path):
            return cache
        try:
            with open(cache.path, "rb") as fh:
                blob = fh.read()
        except OSError as e:
            cache.notes.append(f"cache unreadable ({e.strerror}); rebuilding")
            return cache
        payload = _check(blob)
        if isinstance(payload, str):
            cache.notes.append(f"cache {payload}; rebuilding")
            return cache
        cache.entries, cache.stats = payload
        return cache

    def lookup(self, rel: str, st: os.stat_result) -> tuple | None:
        known = self.stats.get(rel)
        if known and known[0] == st.st_mtime_ns and known[1] == st.st_size:
            entry = self.entries.get(known[2])
            if entry is not None:
                self.used.add(known[2])
                return entry
        return None

    def store(self, rel: str, st: os.stat_result, digest: str, entry: tuple) -> None:
        self.entries[digest] = entry
        self.stats[rel] = (st.st_mtime_ns, st.st_size, digest)
        self.used.add(digest)
        self.dirty = True

    def save(self) -> None:
        if self.directory is None or not self.dirty:
            return
        # keep only what this scan used: deleted and changed files drop out
        entries = {h: e for h, e in self.entries.items() if h in self.used}
        stats = {r: s for r, s in self.stats.items() if s[2] in entries}
        payload = marshal.dumps((entries, stats))
        header = MAGIC + version_key().encode() + b"\n" + hashlib.blake2b(payload, digest_size=16).hexdigest().encode() + b"\n"
        try:
            os.makedirs(self.directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".facts-", dir=self.directory)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(header + payload)
                os.replace(tmp, self.path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        except OSError as e:
            self.notes.append(f"cache not written ({e.strerror or e}); scan results are unaffected")


def _check(blob: bytes):
    """(entries, stats) from a cache file, or a reason it cannot be trusted."""
    if not blob.startswith(MAGIC):
        return "is not a fencecheck cache"
    rest = blob[len(MAGIC):]
    parts = rest.split(b"\n", 2)
    if len(parts) != 3:
        return "is truncated"
    version, digest, payload = parts
    if version.decode(errors="replace") != version_key():
        return f"was written by another version ({version.decode(errors='replace')})"
    if hashlib.blake2b(payload, digest_size=16).hexdigest().encode() != digest:
        return "is corrupt (checksum mismatch)"
    try:
        entries, stats = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return "is corrupt"
    if not isinstance(entries, dict) or not isinstance(stats, dict):
        return "is corrupt"
    return entries, stats
