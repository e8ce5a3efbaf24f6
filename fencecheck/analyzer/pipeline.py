"""The scan, stage by stage: discover -> extract -> link -> rules -> reach.

Each stage takes plain data and returns plain data; this module only wires
them together, runs extraction in worker processes, and counts what was
skipped and why.
"""
from __future__ import annotations

import gc
import marshal
import os
import stat
from collections import Counter
from dataclasses import astuple, dataclass, field, fields

from .. import rules as rule_registry
from .config import Config
from .cache import FactsCache, code_version, content_hash, last_of_each_shard, short_hash
from .discover import Discovery, Skipped, SourceFile, discover
from .extract import extract_source
from .facts import FileFacts, SharedValues, decode, encode
from ..rules import held_lock
from .link import Program, link
from .locks import find_inversions
from .reach import Finding, Step, find_paths, prepare_walks
from .summaries import summarize

# Generated blobs (firmware tables) are not driver logic; parsing them costs
# seconds each.  Counted as skipped, never silently.
MAX_FILE_BYTES = 8 * 1024 * 1024
# Skip reasons that depend on more than a file's content.
UNSTABLE_SKIPS = frozenset({"unreadable", "vanished", "not-a-regular-file"})


@dataclass
class ScanStats:
    files_discovered: int = 0
    files_parsed: int = 0
    functions: int = 0
    calls: int = 0
    entries: int = 0
    error_lines: int = 0
    lines: int = 0
    skipped: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)     # diagnostics that are not about one file


@dataclass
class ScanResult:
    findings: list[Finding]
    stats: ScanStats
    skipped: list[Skipped]
    program: Program | None = None
    suppressed: list = field(default_factory=list)    # triage.Suppressed
    baselined: int = 0                                 # findings hidden because the baseline has them
    baseline_used: bool = False


def encode_result(result: ScanResult) -> tuple:
    """A ScanResult (before triage, without its program) as marshal-able
    tuples for the result cache.  Paths share their steps: a whole tree's
    600,000 path steps are 14,000 distinct ones, each stored and rebuilt once."""
    step_ids: dict[Step, int] = {}

    def ids(steps: tuple[Step, ...]) -> tuple[int, ...]:
        return tuple(step_ids.setdefault(st, len(step_ids)) for st in steps)
    findings = tuple((f.rule, f.context, f.entry, f.entry_how, f.sink, f.what, ids(f.steps), f.primary, f.fix,
                      ids(f.related), f.lock) for f in result.findings)
    # ScanStats field by field, its Counter as a plain dict (marshal writes no subclass)
    stats = tuple(dict(v) if isinstance(v, Counter) else v
                  for v in (getattr(result.stats, f.name) for f in fields(ScanStats)))
    return (tuple(astuple(st) for st in step_ids), findings, stats,
            tuple((k.rel, k.reason, k.detail) for k in result.skipped))


def decode_result(stored: tuple) -> ScanResult:
    step_rows, findings, stats, skipped = stored
    steps = [Step(*row) for row in step_rows]
    scan_stats = ScanStats(*stats)
    scan_stats.skipped = Counter(scan_stats.skipped)
    return ScanResult(
        [Finding(rule, context, entry, how, sink, what, tuple(steps[i] for i in path), primary, fix,
                 tuple(steps[i] for i in related), lock)
         for rule, context, entry, how, sink, what, path, primary, fix, related, lock in findings],
        scan_stats, [Skipped(*row) for row in skipped])


def read_and_extract(rel: str, path: str) -> FileFacts | Skipped:
    """One file -> facts, or the reason it was not parsed."""
    result = _extract_entry(rel, path)
    return result if isinstance(result, Skipped) else _from_entry(rel, result[2])


def _extract_entry(rel: str, path: str) -> tuple[str, str, tuple] | Skipped:
    """Worker: (content hash, analysed digest, cacheable entry), or a Skipped
    that depends on more than the content (permissions, file type, a
    vanished file)."""
    try:
        # O_NONBLOCK: a FIFO that slipped past discovery must not block the scan.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return Skipped(rel, "not-a-regular-file")
            if st.st_size > MAX_FILE_BYTES:
                # cached like content (under its size), so an unchanged tree stays unchanged
                entry = ("S", "too-large", f"{st.st_size} bytes")
                return f"size:{st.st_size}", analysed_digest(entry), entry
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read()
        finally:
            os.close(fd)
    except FileNotFoundError:
        return Skipped(rel, "vanished", "deleted after discovery")
    except OSError as e:
        return Skipped(rel, "unreadable", e.strerror or str(e))
    entry = _entry_for(rel, data)
    return content_hash(data), analysed_digest(entry), entry


def _entry_for(rel: str, data: bytes) -> tuple:
    """("S", reason, detail) for content that holds nothing to parse, else
    ("F", encoded facts without their path: equal content, equal facts)."""
    if b"{" not in data:
        return ("S", "no-code", "no function body or initializer")
    if b"\0" in data[:65536] and data.count(b"\0") > len(data) // 100:
        return ("S", "binary", "NUL bytes")
    try:
        return ("F",) + encode(extract_source(rel, data))[1:]
    except RecursionError:
        return ("S", "too-deep", "nesting beyond the parser's limits")


def analysed_digest(entry: tuple) -> str:
    """Digest of what the analysis reads of a file's entry: all of it but the
    line count, a statistic.  An edit that changes no fact (a comment
    appended, a file touched or checked out again) leaves it as it was, and
    with it the scan's result.  marshal's version 2 writes no back-references:
    its bytes depend on the entry's values (and on which strings ``encode``
    interned), not on which objects the entry happens to share."""
    return content_hash(marshal.dumps(entry[:-1] if entry[0] == "F" else entry, 2))


def _from_entry(rel: str, entry: tuple, skeletons: SharedValues | None = None) -> FileFacts | Skipped:
    if entry[0] == "S":
        return Skipped(rel, entry[1], entry[2])
    return decode((rel,) + tuple(entry[1:]), skeletons)


def _extract_batch(batch: list[tuple[str, str]]) -> list[tuple[str, str, bytes] | Skipped]:
    """Worker: entries go back marshalled, which keeps their strings
    interned (pickle would make a copy of each)."""
    out: list[tuple[str, str, bytes] | Skipped] = []
    for rel, path in batch:
        result = _extract_entry(rel, path)
        out.append(result if isinstance(result, Skipped) else result[:2] + (marshal.dumps(result[2]),))
    return out


@dataclass
class CacheCheck:
    """Which files the cache already knows, from their (mtime, size) alone."""
    hashes: dict[str, str]                              # rel -> content hash of an unchanged file
    todo: list[SourceFile]                              # files to read


def check_cache(files: list[SourceFile], cache: FactsCache) -> CacheCheck:
    """By the (mtime, size) discovery saw: a file changed since is read and
    hashed anyway, and one that has vanished is counted when it is read."""
    check = CacheCheck({}, [])
    for f in files:
        digest = cache.known_hash(f.rel, f.stamp)
        if digest is None:
            check.todo.append(f)
        else:
            check.hashes[f.rel] = digest
    return check


def extract_all(files: list[SourceFile], jobs: int, cache: FactsCache | None = None,
                progress=None) -> list[FileFacts | Skipped]:
    """Facts for every file, from the cache where its content is known."""
    cache = cache or FactsCache(None)
    check = check_cache(files, cache)
    return load_facts(files, check, extract_files(check.todo, jobs, cache, progress), jobs, cache)


def load_facts(files: list[SourceFile], check: CacheCheck, fresh: dict[str, FileFacts | Skipped], jobs: int,
               cache: FactsCache) -> list[FileFacts | Skipped]:
    """Facts for every file: the ``fresh``ly extracted ones, the others from
    the cache (extracting any whose shard has lost them)."""
    out = dict(fresh)
    lost = []
    by_rel = {f.rel: f for f in files}
    skeletons = SharedValues()
    for rel, entry in cache.entries(check.hashes):
        if entry is None:       # the index knew the file but its shard did not
            lost.append(by_rel[rel])
        else:
            out[rel] = _from_entry(rel, entry, skeletons)
    out.update(extract_files(lost, jobs, cache))
    return [out[f.rel] for f in files]


def extract_files(todo: list[SourceFile], jobs: int, cache: FactsCache, progress=None) -> dict[str, FileFacts | Skipped]:
    """Facts of the files to read, each stored in the cache as it comes in."""
    out: dict[str, FileFacts | Skipped] = {}
    last = last_of_each_shard(f.rel for f in todo)
    skeletons = SharedValues()
    for f, result in zip(todo, _extracted([(f.rel, f.abs) for f in todo], jobs, progress)):
        if isinstance(result, Skipped):
            out[f.rel] = result
        else:
            digest, analysed, entry = result
            cache.store(f.rel, f.stamp, digest, analysed, entry)
            out[f.rel] = _from_entry(f.rel, entry, skeletons)
        if f.rel in last:
            cache.settle(f.rel)
    return out


def _extracted(work: list[tuple[str, str]], jobs: int, progress):
    """_extract_entry of each (rel, path), in order, as the workers send them
    in: the parent decodes while they parse."""
    if jobs <= 1 or len(work) < 16:
        for item in work:
            yield _extract_entry(*item)
            if progress:
                progress(1)
        return
    # imported only when files are parsed: multiprocessing took 20 ms of the
    # start-up of a scan that finds every file in the cache
    from concurrent.futures import ProcessPoolExecutor
    batch_size = max(1, min(64, len(work) // (jobs * 8) or 1))
    batches = [work[i:i + batch_size] for i in range(0, len(work), batch_size)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for batch_result in pool.map(_extract_batch, batches):
            yield from (r if isinstance(r, Skipped) else r[:2] + (marshal.loads(r[2]),) for r in batch_result)
            if progress:
                progress(len(batch_result))


def analyse(facts: list[FileFacts], config: Config) -> tuple[list[Finding], Program, int]:
    """Link, mark contexts and sinks, and find the forbidden paths."""
    program = link(facts, config.arch)     # which frees the facts only it reads
    entries = []
    for ctx_rule in rule_registry.context_rules(config):
        entries.extend(ctx_rule.find(program, config))
    entries.sort(key=lambda e: (program.funcs.file[e.fid], program.funcs.fn[e.fid].line, e.context, e.how))
    summaries = [summarize(program, r) for r in rule_registry.sink_rules(config)]
    prepare_walks(program, entries, summaries)
    findings = find_paths(program, entries, summaries)
    if held_lock.ID not in config.disable:
        findings += find_inversions(program, entries, summaries)
    return sorted(findings, key=Finding.sort_key), program, len(entries)


def scan(paths: list[str], root: str, config: Config, jobs: int = 0, progress_factory=None,
         cache_dir: str | None = None) -> ScanResult:
    """Scan ``paths`` under ``root``; ``cache_dir`` None means no cache; ``jobs`` 0: all cores."""
    jobs = jobs or os.cpu_count() or 1
    stats = ScanStats()
    found: Discovery = discover(paths, root)
    stats.files_discovered = len(found.files)
    # Millions of small, long-lived objects and no cycles worth collecting:
    # the cyclic GC would rescan them over and over (several times slower).
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        cache = FactsCache.open(cache_dir, root)
        check = check_cache(found.files, cache)
        progress = progress_factory(len(found.files)) if progress_factory and check.todo else None
        if progress:
            progress(len(found.files) - len(check.todo))
        fresh = extract_files(check.todo, jobs, cache, progress)
        cache.save()
        scope = repr((os.path.realpath(root), sorted(paths)))
        # Files whose facts did not change (only their line count may have)
        # leave the last result as it was: it is reused without loading a fact.
        if cache.directory and not any(isinstance(r, Skipped) and r.reason in UNSTABLE_SKIPS for r in fresh.values()):
            cached = cache.load_result(scope, _result_key(found, cache, config))
            if cached is not None:
                result = decode_result(cached)
                result.stats.lines = sum(cache.lines(f.rel) for f in found.files)
                result.stats.notes = list(cache.notes)
                return result
        results = load_facts(found.files, check, fresh, jobs, cache)
        cache.save()
        cache.drop_shards()     # their facts are decoded: free the memory for the analysis
        stats.notes.extend(cache.notes)
        result = _finish(found, results, config, stats)
        # A file that could not be read may be readable next time with the
        # same content: such a result is not worth keeping.
        if cache.directory and not any(s.reason in UNSTABLE_SKIPS for s in result.skipped):
            # keyed anew: files whose shard had lost their facts were read again
            cache.save_result(scope, _result_key(found, cache, config), encode_result(result))
        return result
    finally:
        if gc_was_enabled:
            gc.enable()


def _result_key(found: Discovery, cache: FactsCache, config: Config) -> str:
    """Everything a scan's result depends on: each file's facts (its
    analysed digest), what discovery skipped, the configuration and the code."""
    files = [(f.rel, cache.analysed(f.rel)) for f in found.files]
    skipped = [(s.rel, s.reason, s.detail) for s in found.skipped]
    return short_hash(repr((code_version("results"), repr(config), files, skipped)))


def _finish(found: Discovery, results, config: Config, stats: ScanStats) -> ScanResult:
    skipped = list(found.skipped)
    facts = []
    for r in results:
        if isinstance(r, Skipped):
            skipped.append(r)
        else:
            facts.append(r)
            stats.functions += len(r.functions)
            stats.calls += sum(len(f.calls) for f in r.functions)
            stats.error_lines += r.error_lines
            stats.lines += r.lines
    stats.files_parsed = len(facts)
    findings, program, stats.entries = analyse(facts, config)
    skipped.sort(key=lambda s: (s.rel, s.reason))
    stats.skipped = Counter(s.reason for s in skipped)
    return ScanResult(findings, stats, skipped, program)
