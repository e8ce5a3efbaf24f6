"""Facts and results cache, under ``$XDG_CACHE_HOME/fencecheck/<tree id>/``.

  index.bin            rel -> (mtime_ns, size, content hash, analysed digest,
                       lines): which files are unchanged, without reading
                       them, and what their facts are
  facts/<dir id>.bin   one shard per source directory: rel -> (content hash,
                       encoded facts or skip reason); loaded only when facts
                       are needed, rewritten only when a file in it changed
  results/<scope>.bin  the last scan's result for one set of scanned paths,
                       keyed by every file's analysed digest (its facts but
                       the line count), the configuration and the analyzer's
                       code: a tree whose facts are unchanged re-scans
                       without loading a single fact

Every file starts with a header naming its kind, the code version it was
written by and a checksum of its payload; anything that does not match (a
truncated file, random bytes, another version's cache) is reported and
rebuilt, never trusted.  Writes go to a temporary file renamed into place, so
a reader never sees half a file and two scans at once leave whole files (a
shard and the index from different scans disagree on a content hash, which
only costs a re-parse).
"""
from __future__ import annotations

import functools
import hashlib
import marshal
import os
import tempfile
from dataclasses import dataclass, field

MAGIC = b"FENCECHECK-CACHE\n"
# Source files whose code decides what a file's facts are; the results depend
# on all of the package.
FACTS_CODE = ("analyzer/extract.py", "analyzer/preprocess.py", "analyzer/facts.py")
INDEX_ROW = "mtime_ns size content-hash analysed-digest lines"     # a new layout is a new index version
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@functools.lru_cache(maxsize=None)
def code_version(which: str) -> str:
    """Hash of the code that produced a cache file: "facts", "index" or "results".
    Editing the extractor or a rule invalidates what it wrote, release or not;
    the index of content hashes goes with the facts, so a rule edit re-parses nothing."""
    if which in ("facts", "index"):
        names = FACTS_CODE
    else:
        names = sorted(os.path.relpath(os.path.join(d, f), PACKAGE).replace(os.sep, "/")
                       for d, _, fs in os.walk(PACKAGE) for f in fs if f.endswith(".py"))
    h = hashlib.blake2b(which.encode() + (INDEX_ROW.encode() if which == "index" else b""), digest_size=8)
    for name in names:
        h.update(name.encode() + b"\0")
        with open(os.path.join(PACKAGE, name), "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()


def default_dir(root: str) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fencecheck", short_hash(os.path.realpath(root)))


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _shard_of(rel: str) -> str:
    return short_hash(rel.rpartition("/")[0])


def last_of_each_shard(rels) -> set[str]:
    """The last of ``rels`` (in order) that each shard holds."""
    return set({_shard_of(rel): rel for rel in rels}.values())


@dataclass
class FactsCache:
    directory: str | None
    root: str = "."
    index: dict[str, tuple[int, int, str, str, int]] = field(default_factory=dict)   # rel -> INDEX_ROW
    shards: dict[str, dict[str, tuple]] = field(default_factory=dict)     # shard -> rel -> (hash, entry)
    notes: list[str] = field(default_factory=list)             # diagnostics for the summary
    dirty_shards: set[str] = field(default_factory=set)
    index_changed: bool = False
    seen: set[str] = field(default_factory=set)                # files this scan looked at

    @classmethod
    def open(cls, directory: str | None, root: str = ".") -> "FactsCache":
        cache = cls(directory, root)
        index = cache._read("index.bin", "index", dict)
        cache.index = index if index is not None else {}
        return cache

    def known_hash(self, rel: str, stamp: tuple[int, int]) -> str | None:
        """The content hash of an unchanged file (same mtime and size), without reading it."""
        self.seen.add(rel)
        known = self.index.get(rel)
        if known and known[0] == stamp[0] and known[1] == stamp[1]:
            return known[2]
        return None

    def analysed(self, rel: str) -> str:
        """The analysed digest of a file's facts ("?" for a file not cached)."""
        return self.index[rel][3] if rel in self.index else "?"

    def lines(self, rel: str) -> int:
        """A cached file's line count (0 for a skipped one)."""
        return self.index[rel][4] if rel in self.index else 0

    def entry(self, rel: str, digest: str) -> tuple | None:
        """The stored facts of a file whose content hash is ``digest``."""
        found = self._shard(_shard_of(rel)).get(rel)
        return found[1] if found and found[0] == digest else None

    def entries(self, wanted: dict[str, str]):
        """(rel, stored facts or None) for each rel -> content hash, in order.
        A shard is dropped once its last wanted file is read (unless it holds
        entries not saved yet): a whole tree's shards are never all in memory
        beside the facts decoded from them."""
        last = last_of_each_shard(wanted)
        for rel, digest in wanted.items():
            yield rel, self.entry(rel, digest)
            shard = _shard_of(rel)
            if rel in last and shard not in self.dirty_shards:
                self.shards.pop(shard, None)

    def store(self, rel: str, stamp: tuple[int, int], digest: str, analysed: str, entry: tuple) -> None:
        self.seen.add(rel)
        shard = _shard_of(rel)
        self._shard(shard)[rel] = (digest, entry)
        self.index[rel] = (stamp[0], stamp[1], digest, analysed, entry[-1] if entry[0] == "F" else 0)
        self.dirty_shards.add(shard)
        self.index_changed = True

    def load_result(self, scope: str, key: str) -> tuple | None:
        """The stored result (pipeline.encode_result) of the scan of ``scope``, if its key is ``key``."""
        stored = self._read(f"results/{short_hash(scope)}.bin", "results", tuple)
        if stored is None or len(stored) != 2 or stored[0] != key:
            return None
        return stored[1]

    def save_result(self, scope: str, key: str, encoded: tuple) -> None:
        self._write(f"results/{short_hash(scope)}.bin", "results", (key, encoded))

    def save(self) -> None:
        if self.directory is None or not (self.dirty_shards or self.index_changed):
            return
        for shard in sorted(self.dirty_shards):
            self._write_shard(shard)
        # Files deleted since they were cached drop out; files outside this
        # scan's paths are kept for the next scan that covers them.
        self._write("index.bin", "index", {rel: s for rel, s in self.index.items()
                                           if rel in self.seen or self._exists(rel)})
        self.dirty_shards.clear()
        self.index_changed = False

    def settle(self, rel: str) -> None:
        """Write the shard holding ``rel``, its last file to store, and forget
        it: a cold scan keeps no encoded facts beside the decoded ones."""
        shard = _shard_of(rel)
        if shard in self.dirty_shards and self.directory is not None:
            self._write_shard(shard)
        self.dirty_shards.discard(shard)
        self.shards.pop(shard, None)

    def _write_shard(self, shard: str) -> None:
        """A shard without the files deleted since they were cached."""
        self._write(f"facts/{shard}.bin", "facts",
                    {rel: e for rel, e in self._shard(shard).items() if rel in self.seen or self._exists(rel)})

    def _exists(self, rel: str) -> bool:
        return os.path.lexists(os.path.join(self.root, rel))

    def drop_shards(self) -> None:
        """Forget the loaded shards, once saved: the next entry() reads its shard again."""
        self.shards.clear()

    # -- files -------------------------------------------------------------
    def _shard(self, shard: str) -> dict[str, tuple]:
        if shard not in self.shards:
            self.shards[shard] = self._read(f"facts/{shard}.bin", "facts", dict) or {}
        return self.shards[shard]

    def _read(self, name: str, kind: str, expected: type):
        if self.directory is None:
            return None
        path = os.path.join(self.directory, name)
        try:
            with open(path, "rb") as fh:
                blob = fh.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            self.notes.append(f"cache file {name} unreadable ({e.strerror}); rebuilding")
            return None
        payload = _check(blob, kind, expected)
        if isinstance(payload, str):
            self.notes.append(f"cache file {name} {payload}; rebuilding")
            return None
        return payload

    def _write(self, name: str, kind: str, payload) -> None:
        data = marshal.dumps(payload)
        header = MAGIC + f"{kind}:{code_version(kind)}\n".encode() + content_hash(data).encode() + b"\n"
        path = os.path.join(self.directory, name)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(path))
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(header + data)
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        except OSError as e:
            note = f"cache not written ({e.strerror or e}); scan results are unaffected"
            if note not in self.notes:
                self.notes.append(note)


def _check(blob: bytes, kind: str, expected: type):
    """The payload of a cache file, or a reason it cannot be trusted."""
    if not blob.startswith(MAGIC):
        return "is not a fencecheck cache"
    # the header's two lines by offset: the payload (a whole tree's facts
    # are 500 MB of shards) is checked and read in place, never copied
    version_end = blob.find(b"\n", len(MAGIC))
    digest_end = blob.find(b"\n", version_end + 1) if version_end >= 0 else -1
    if digest_end < 0:
        return "is truncated"
    version, digest = blob[len(MAGIC):version_end], blob[version_end + 1:digest_end]
    payload = memoryview(blob)[digest_end + 1:]
    if version.decode(errors="replace") != f"{kind}:{code_version(kind)}":
        return f"was written by another version ({version.decode(errors='replace')})"
    if content_hash(payload).encode() != digest:
        return "is corrupt (checksum mismatch)"
    try:
        value = marshal.loads(payload)
    except (EOFError, ValueError, TypeError):
        return "is corrupt"
    return value if isinstance(value, expected) else "is corrupt"
