"""Command line: ``fencecheck scan|rules|explain``.

Exit codes: 0 no findings, 1 findings, 2 usage or internal error.
"""
from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import tempfile
import traceback
from collections.abc import Iterable

from . import __version__
from . import rules as rule_registry
from .analyzer import report, triage
from .analyzer.cache import default_dir as default_cache_dir
from .analyzer.config import ConfigError, load
from .analyzer.discover import UsageError
from .analyzer.pipeline import scan
from .analyzer.sources import SourceLines

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _default_paths() -> list[str]:
    """No path given: the bundled fixtures when run in this repository, else '.'."""
    return ["fixtures"] if os.path.isdir("fixtures") and os.path.isfile("pyproject.toml") else ["."]


def _root_for(paths: list[str], root: str | None) -> str:
    if root:
        return os.path.abspath(root)
    cwd = os.getcwd()
    absolute = [os.path.abspath(p) for p in paths]
    if all(os.path.commonpath([cwd, p]) == cwd for p in absolute):
        return cwd
    common = os.path.commonpath(absolute)
    return common if os.path.isdir(common) else os.path.dirname(common)


def write_atomically(path: str, text: str | Iterable[str]) -> None:
    """Write ``text`` (or its chunks) via a temporary file in the same
    directory and rename over ``path``."""
    _stop_if_signalled()
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError(f"output directory does not exist: {directory}")
    fd, tmp = tempfile.mkstemp(prefix=".fencecheck-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.writelines([text] if isinstance(text, str) else text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _progress_factory():
    if not sys.stderr.isatty():
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    def factory(total: int):
        progress = Progress("extracting", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            transient=True, console=None)
        progress.start()
        task = progress.add_task("files", total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)
            if progress.tasks[0].completed >= total:
                progress.stop()
        return advance
    return factory


def _changed_since(root: str, rev: str) -> list[str]:
    import subprocess       # only for --since
    try:
        out = subprocess.run(["git", "-C", root, "diff", "--name-only", "--diff-filter=d", rev, "--"],
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise UsageError(f"--since {rev}: git diff failed: {getattr(e, 'stderr', '') or e}") from e
    return [p for p in out.splitlines() if p.endswith((".c", ".h"))]


def _as_root_relative(root: str, path: str) -> str:
    full = path if os.path.isabs(path) else os.path.join(root, path)
    if not os.path.exists(full) and os.path.exists(os.path.abspath(path)):
        full = os.path.abspath(path)
    return os.path.relpath(full, root).replace(os.sep, "/")


# The last scan's result stays referenced until the process ends: entry()
# leaves with os._exit, so a whole tree's program is never torn down object
# by object (seconds); the next main() in the same process replaces it.
_last_result: list = []


def run_scan(args):
    """Scan as the arguments say, triaged; (result, root)."""
    paths = args.paths or ([] if args.since else _default_paths())
    root = _root_for(paths or ["."], args.root)
    if not os.path.isdir(root):
        raise UsageError(f"root is not a directory: {root}")
    # Changed-files mode: only files were named (or --since): the whole tree is
    # analysed, and only findings whose paths pass through those files are reported.
    changed = None
    if args.since:
        changed = set(_changed_since(root, args.since)) | {_as_root_relative(root, p) for p in paths}
    elif paths and all(os.path.isfile(p if os.path.isabs(p) or os.path.exists(p) else os.path.join(root, p))
                       for p in paths):
        changed = {_as_root_relative(root, p) for p in paths}
    config = load(root, args.config)
    cache_dir = None if args.no_cache else (args.cache_dir or default_cache_dir(root))
    result = scan([root] if changed is not None else paths, root, config, jobs=args.jobs,
                  progress_factory=_progress_factory(), cache_dir=cache_dir)
    if changed is not None:
        result.findings = [f for f in result.findings
                           if any(s.file in changed for s in f.steps + f.related)]
    try:
        triage.apply(result, config, root, getattr(args, "baseline", None))
    except (OSError, ValueError) as e:
        raise UsageError(f"baseline: {e}") from e
    _last_result[:] = [result]
    return result, root


def cmd_scan(args) -> int:
    result, root = run_scan(args)
    if args.format == "sarif":
        from .analyzer import sarif      # only here: its libraries took 90 ms of the start-up
        chunks = [sarif.to_sarif(result, root, category=args.category)]
    elif args.format == "json":
        chunks = report.json_chunks(result)
    else:
        chunks = report.text_chunks(result)
    if args.output:
        write_atomically(args.output, chunks)
        print(report.summary_line(result), file=sys.stderr)
    else:
        _stop_if_signalled()
        sys.stdout.writelines(chunks)
        if args.format != "text":
            print(report.summary_line(result), file=sys.stderr)
    return EXIT_FINDINGS if result.findings else EXIT_CLEAN


def cmd_baseline(args) -> int:
    result, root = run_scan(args)
    write_atomically(args.file, triage.baseline_text(result.findings, SourceLines(root)))
    print(f"fencecheck: baseline of {len(result.findings)} finding(s) written to {args.file}", file=sys.stderr)
    return EXIT_CLEAN


def cmd_path(args) -> int:
    """Every forbidden path from one entry function, as a tree (and a Graphviz graph)."""
    result, _ = run_scan(args)
    mine = [f for f in result.findings if f.entry == args.entry]
    if not mine:
        print(f"fencecheck: no forbidden path from {args.entry}", file=sys.stderr)
        return EXIT_CLEAN
    tree: dict = {}
    for f in mine:
        node = tree
        for step in f.steps:
            node = node.setdefault((step.file, step.line, step.text), {})
        node.setdefault((f.location.file, f.location.line, f"=> [{f.rule}] {f.what}"), {})

    def show(node: dict, depth: int) -> None:
        for (file, line, text), sub in node.items():
            print(f"{'  ' * depth}{text}  ({file}:{line})")
            show(sub, depth + 1)
    show(tree, 0)
    if args.dot:
        edges, sinks = set(), set()
        for f in mine:
            calls = [(st, st.text.split(" calls ", 1)[1].split("(", 1)[0]) for st in f.steps[1:]]
            edges.update((st.function, callee, f"{st.file}:{st.line}") for st, callee in calls)
            sinks.add(calls[-1][1])
        dot = ["digraph fencecheck {", "  rankdir=LR;", f'  "{args.entry}" [shape=box];']
        dot += [f'  "{a}" -> "{b}" [label="{where}"];' for a, b, where in sorted(edges)]
        dot += [f'  "{name}" [shape=octagon, color=red];' for name in sorted(sinks)]
        write_atomically(args.dot, "\n".join(dict.fromkeys(dot)) + "\n}\n")
    return EXIT_FINDINGS


def cmd_rules(args) -> int:
    for rule_id, (kind, doc) in rule_registry.all_docs().items():
        print(f"{rule_id:26} {kind:8} {doc.title}")
    print("\nforbidden where (sink x context):")
    from .analyzer.config import Config
    for rule in rule_registry.sink_rules(Config()):
        cells = []
        for ctx in ("signalling", "reclaim", "mmu_notifier"):
            allowed = rule.forbidden_in.get(ctx)
            cells.append(f"{ctx}=" + ("allowed" if allowed is None else
                                      "forbidden" if not allowed else f"forbidden outside {','.join(allowed)}"))
        print(f"  {rule.id:14} " + "  ".join(cells))
    return EXIT_CLEAN


def cmd_explain(args) -> int:
    docs = rule_registry.all_docs()
    if args.rule not in docs:
        raise UsageError(f"unknown rule {args.rule!r}; known: {', '.join(docs)}")
    print(docs[args.rule][1].text(args.rule), end="")
    return EXIT_CLEAN


def _scan_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("paths", nargs="*", help="files or directories (default: fixtures/ in this repo, else .); "
                   "only files: analyse the whole --root, report findings whose path passes through them")
    s.add_argument("--since", metavar="REV", help="report findings whose path passes through files changed "
                   "since this git revision (whole --root analysed)")
    s.add_argument("--root", help="tree root; output paths are relative to it (default: current directory "
                                  "or the paths' common parent)")
    s.add_argument("-j", "--jobs", type=_job_count, default=0, help="worker processes (default, or 0: all cores)")
    s.add_argument("--config", help="config file (default: .fencecheck.toml or pyproject.toml in the root)")
    s.add_argument("--cache-dir", help="facts cache directory (default: $XDG_CACHE_HOME/fencecheck/<tree id>)")
    s.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")


def _job_count(text: str) -> int:
    """-j N: a whole number of worker processes, 0 for all cores."""
    try:
        jobs = int(text)
    except ValueError:
        jobs = -1
    if jobs < 0:
        raise argparse.ArgumentTypeError(f"expected a number of processes (0: all cores), got {text!r}")
    return jobs


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fencecheck", description="Check Linux kernel C sources against the "
                                "dma_fence cross-driver contract.")
    p.add_argument("--version", action="version", version=f"fencecheck {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("scan", help="scan C sources and report forbidden paths")
    _scan_arguments(s)
    s.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    s.add_argument("--output", "-o", help="write the report to this file (atomically)")
    s.add_argument("--category", default="fencecheck/", help="SARIF runAutomationDetails.id")
    s.add_argument("--baseline", metavar="FILE", help="report only findings not in this baseline")
    s.set_defaults(func=cmd_scan)
    b = sub.add_parser("baseline", help="record today's findings")
    b_sub = b.add_subparsers(dest="action", required=True)
    bw = b_sub.add_parser("write", help="scan and write the findings' fingerprints to FILE")
    bw.add_argument("file")
    _scan_arguments(bw)
    bw.set_defaults(func=cmd_baseline)
    pth = sub.add_parser("path", help="every forbidden path from one entry function, as a tree")
    pth.add_argument("entry")
    _scan_arguments(pth)
    pth.add_argument("--dot", metavar="FILE", help="also write the paths as a Graphviz graph")
    pth.set_defaults(func=cmd_path)
    r = sub.add_parser("rules", help="list the rules")
    r.set_defaults(func=cmd_rules)
    e = sub.add_parser("explain", help="print a rule's documentation")
    e.add_argument("rule")
    e.set_defaults(func=cmd_explain)
    return p


class Terminated(BaseException):
    """SIGTERM, raised so that temporary output files are removed on the way out."""


# The exit code of the first SIGINT or SIGTERM received.  The exception a
# signal raises can be lost (raised while Python finalises an abandoned
# generator, it is only printed): output is checked against this before it
# is written, so an interrupted scan never leaves a report behind.
_signalled: list[int] = []


def _on_signal(signum, frame):
    _signalled.append(128 + signum)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _stop_if_signalled() -> None:
    if _signalled:
        raise Terminated() if _signalled[0] == 128 + signal.SIGTERM else KeyboardInterrupt()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _signalled.clear()
    handlers = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    # The scan's millions of objects stay alive while the report is written:
    # a collection pass over them would cost seconds and free nothing.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return args.func(args)
    except Terminated:
        return 143
    except (UsageError, ConfigError) as e:
        print(f"fencecheck: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader left (`fencecheck scan | head`): stop as a tool killed by
        # SIGPIPE does, quietly.  stdout goes to /dev/null first, or Python's
        # own flush of it at exit would fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except Exception:
        traceback.print_exc()
        print("fencecheck: internal error", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if gc_was_enabled:
            gc.enable()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def entry() -> None:
    """The command: main(), then exit without tearing down the scan's objects
    one by one (seconds on a whole tree); output files are already closed.
    The collector stays off to the end: main() would turn it back on for
    an in-process caller, and the next allocation would then start a full
    collection over every object of the scan."""
    gc.disable()
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:     # `fencecheck scan | head`: the reader has gone
        pass
    os._exit(code)


if __name__ == "__main__":
    entry()
