"""Stage 1: find the C sources under the given paths.

Nothing is dropped silently: every path that is not scanned is returned as a
``Skipped`` with a reason, and the report counts them.  Symlinks are followed
only while they stay inside the root; FIFOs, devices and directories named
``*.c`` are never opened.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass

SOURCE_SUFFIXES = (".c", ".h")
# Version control and build output never hold driver sources.
PRUNED_DIRS = frozenset({".git", ".hg", ".svn", "__pycache__", ".tmp_versions"})


@dataclass(frozen=True, slots=True)
class SourceFile:
    rel: str        # root-relative, '/'-separated: the name used in every output
    abs: str
    # (mtime in ns, size) as discovery found them: the cache's check needs no
    # second stat, and a whole tree's stat results took 30 MB
    stamp: tuple[int, int]


@dataclass(frozen=True, slots=True)
class Skipped:
    rel: str
    reason: str     # short machine-readable reason, counted in the summary
    detail: str = ""


@dataclass(slots=True)
class Discovery:
    files: list[SourceFile]
    skipped: list[Skipped]


class UsageError(Exception):
    """A path the user named does not exist or lies outside the root."""


def _rel(root: str, path: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def _inside(root: str, path: str) -> bool:
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def discover(paths: list[str], root: str) -> Discovery:
    root = os.path.realpath(root)
    files: dict[str, SourceFile] = {}
    skipped: list[Skipped] = []
    for given in paths:
        start = given if os.path.isabs(given) else os.path.join(root, given)
        if not os.path.lexists(start):
            raise UsageError(f"path does not exist: {given}")
        if not _inside(root, os.path.abspath(start)) and not _inside(root, start):
            raise UsageError(f"path is outside the root {root}: {given}")
        if os.path.isdir(start) and not os.path.islink(start):
            _walk(root, start, files, skipped)
        else:
            _consider(root, start, files, skipped, named=True)
    ordered = sorted(files.values(), key=lambda f: f.rel)
    skipped.sort(key=lambda s: (s.rel, s.reason))
    return Discovery(ordered, skipped)


def _walk(root: str, top: str, files: dict, skipped: list) -> None:
    seen_dirs: set[tuple[int, int]] = set()
    # (directory, whether its path is already real: no symlink on the way from
    # the root, so the files in it need no realpath, which costs seconds on a tree)
    top = os.path.normpath(top)
    stack = [(top, os.path.realpath(top) == top)]
    while stack:
        d, d_is_real = stack.pop()
        try:
            st = os.stat(d)
        except OSError as e:
            skipped.append(Skipped(_rel(root, d), "unreadable", e.strerror or str(e)))
            continue
        if (st.st_dev, st.st_ino) in seen_dirs:
            skipped.append(Skipped(_rel(root, d), "symlink-loop"))
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as e:
            skipped.append(Skipped(_rel(root, d), "unreadable", e.strerror or str(e)))
            continue
        subdirs = []
        for entry in entries:
            if entry.name in PRUNED_DIRS:
                continue
            path = entry.path
            link = entry.is_symlink()
            if link:
                if not _inside(root, path):
                    if entry.name.endswith(SOURCE_SUFFIXES) or os.path.isdir(path):
                        skipped.append(Skipped(_rel(root, path), "symlink-outside-root"))
                    continue
                if not os.path.exists(path):
                    if entry.name.endswith(SOURCE_SUFFIXES):
                        skipped.append(Skipped(_rel(root, path), "broken-symlink"))
                    continue
                target = os.path.realpath(path)
                here = os.path.realpath(d)
                if os.path.isdir(target) and (here == target or here.startswith(target + os.sep)):
                    skipped.append(Skipped(_rel(root, path), "symlink-loop"))
                    continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if entry.name.endswith(SOURCE_SUFFIXES):
                    skipped.append(Skipped(_rel(root, path), "not-a-regular-file", "directory"))
                subdirs.append((path, d_is_real and not link))
            elif entry.name.endswith(SOURCE_SUFFIXES):
                _consider(root, path, files, skipped, real=d_is_real and not link)
        stack.extend(reversed(subdirs))


def _consider(root: str, path: str, files: dict, skipped: list, named: bool = False, real: bool = False) -> None:
    """``real``: the path is known to be the file's real path below the root."""
    rel = path[len(root.rstrip(os.sep)) + 1:].replace(os.sep, "/") if real else _rel(root, path)
    if named and not path.endswith(SOURCE_SUFFIXES):
        skipped.append(Skipped(rel, "not-c-source"))
        return
    if not real and os.path.islink(path) and not _inside(root, path):
        skipped.append(Skipped(rel, "symlink-outside-root"))
        return
    try:
        st = os.stat(path)
    except OSError as e:
        reason = "broken-symlink" if os.path.islink(path) else "unreadable"
        skipped.append(Skipped(rel, reason, e.strerror or str(e)))
        return
    if not stat.S_ISREG(st.st_mode):
        kind = "directory" if stat.S_ISDIR(st.st_mode) else "special file"
        skipped.append(Skipped(rel, "not-a-regular-file", kind))
        return
    # One entry per real file, named by its real path: a file reached through
    # several symlinks is scanned once, under the same name every time.
    stamp = (st.st_mtime_ns, st.st_size)
    if real:
        files.setdefault(rel, SourceFile(rel, path, stamp))
        return
    real_path = os.path.realpath(path)
    real_rel = _rel(root, real_path)
    files.setdefault(real_rel, SourceFile(real_rel, real_path, stamp))
