"""Per-tree configuration: ``[tool.fencecheck]`` in pyproject.toml or ``.fencecheck.toml``.

Validated strictly: an unknown key, a wrong type or an unknown rule/context
is an error naming the file and the key, never silently ignored.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

try:
    import tomllib
except ModuleNotFoundError:    # Python 3.10
    import tomli as tomllib

from ..rules.base import CONTEXTS
from ..rules.framework import DEFAULT_ARCH


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class EntryPoint:
    function: str
    context: str
    reason: str = ""


@dataclass(frozen=True)
class OpsField:
    struct: str
    field: str
    context: str


@dataclass(frozen=True)
class Suppression:
    rule: str
    function: str       # the entry function or the function holding the sink
    reason: str
    path: str = ""      # optional: only findings whose primary location is under this path


@dataclass(frozen=True)
class Config:
    source: str = ""
    entries: tuple[EntryPoint, ...] = ()
    ops: tuple[OpsField, ...] = ()
    # sink rule id -> extra API names; reclaim_alloc: name -> gfp arg index (or None)
    sinks: dict = field(default_factory=dict)
    publish: tuple[str, ...] = ()       # extra helpers that add a job's fence to a dma_resv
    queue: tuple[str, ...] = ()         # extra helpers that queue a job
    disable: tuple[str, ...] = ()       # rule ids not to run
    suppress: tuple[Suppression, ...] = ()
    arch: str = DEFAULT_ARCH  # the architecture whose arch/ code common code calls


SINK_IDS = ("resv_lock", "reclaim_alloc", "fence_wait", "user_fault")
_TOP_KEYS = {"entries", "ops", "sinks", "publish", "queue", "disable", "suppress", "arch"}


def _expect(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise ConfigError(f"{where}: {msg}")


def _str_list(value, where: str) -> tuple[str, ...]:
    _expect(isinstance(value, list) and all(isinstance(v, str) for v in value), where, "expected a list of strings")
    return tuple(value)


def _table(value, where: str, keys: tuple[str, ...]) -> None:
    """A table whose keys are all among ``keys``."""
    _expect(isinstance(value, dict), where, "expected a table {" + ", ".join(keys) + "}")
    for k in value:
        _expect(k in keys, f"{where}.{k}", "unknown key")


def parse(data: dict, source: str) -> Config:
    _expect(isinstance(data, dict), source, "expected a table")
    for key in data:
        _expect(key in _TOP_KEYS, f"{source}: {key}", f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})")
    entries = []
    for i, e in enumerate(data.get("entries", [])):
        where = f"{source}: entries[{i}]"
        _table(e, where, ("function", "context", "reason"))
        _expect(isinstance(e.get("function"), str), f"{where}.function", "expected a string")
        ctx = e.get("context", "signalling")
        _expect(ctx in CONTEXTS, f"{where}.context", f"unknown context {ctx!r} (known: {', '.join(CONTEXTS)})")
        entries.append(EntryPoint(e["function"], ctx, str(e.get("reason", ""))))
    ops = []
    for i, o in enumerate(data.get("ops", [])):
        where = f"{source}: ops[{i}]"
        _table(o, where, ("struct", "field", "context"))
        for k in ("struct", "field"):
            _expect(isinstance(o.get(k), str), f"{where}.{k}", "expected a string")
        ctx = o.get("context", "signalling")
        _expect(ctx in CONTEXTS, f"{where}.context", f"unknown context {ctx!r}")
        ops.append(OpsField(o["struct"], o["field"], ctx))
    sinks: dict = {}
    raw_sinks = data.get("sinks", {})
    _expect(isinstance(raw_sinks, dict), f"{source}: sinks", "expected a table of rule id -> list")
    for rule_id, value in raw_sinks.items():
        where = f"{source}: sinks.{rule_id}"
        _expect(rule_id in SINK_IDS, where, f"unknown rule id (known: {', '.join(SINK_IDS)})")
        if rule_id == "reclaim_alloc":
            _expect(isinstance(value, list), where, "expected a list")
            table = {}
            for j, item in enumerate(value):
                if isinstance(item, str):
                    table[item] = None
                    continue
                _expect(isinstance(item, dict) and isinstance(item.get("name"), str),
                        f"{where}[{j}]", "expected a name or {name, gfp_arg}")
                for k in item:
                    _expect(k in ("name", "gfp_arg"), f"{where}[{j}].{k}", "unknown key")
                gfp = item.get("gfp_arg")
                _expect(gfp is None or isinstance(gfp, int), f"{where}[{j}].gfp_arg", "expected an integer")
                table[item["name"]] = gfp
            sinks[rule_id] = table
        else:
            sinks[rule_id] = _str_list(value, where)
    disable = _str_list(data.get("disable", []), f"{source}: disable")
    from .. import rules   # the registry imports analyzer modules; import it only when needed
    known = rules.all_docs()
    for rule_id in disable:
        _expect(rule_id in known, f"{source}: disable", f"unknown rule id {rule_id!r}")
    suppressions = []
    for i, item in enumerate(data.get("suppress", [])):
        where = f"{source}: suppress[{i}]"
        _table(item, where, ("rule", "function", "reason", "path"))
        for k in ("rule", "function", "reason"):
            _expect(isinstance(item.get(k), str) and item[k].strip(), f"{where}.{k}",
                    "required" + (": say why this finding is accepted" if k == "reason" else ""))
        _expect(isinstance(item.get("path", ""), str), f"{where}.path", "expected a string")
        _expect(item["rule"] in known, f"{where}.rule", f"unknown rule id {item['rule']!r}")
        suppressions.append(Suppression(item["rule"], item["function"], item["reason"], item.get("path", "")))
    arch = data.get("arch", DEFAULT_ARCH)
    _expect(isinstance(arch, str) and arch.isidentifier(), f"{source}: arch",
            "expected a directory name under arch/, such as \"x86\" or \"arm64\"")
    return Config(source, tuple(entries), tuple(ops), sinks,
                  _str_list(data.get("publish", []), f"{source}: publish"),
                  _str_list(data.get("queue", []), f"{source}: queue"), disable, tuple(suppressions), arch)


def load(root: str, explicit: str | None = None) -> Config:
    """The config of the scanned tree: ``explicit``, else .fencecheck.toml, else pyproject.toml."""
    candidates = [explicit] if explicit else [os.path.join(root, ".fencecheck.toml"),
                                              os.path.join(root, "pyproject.toml")]
    for path in candidates:
        if not os.path.isfile(path):
            if explicit:
                raise ConfigError(f"{path}: no such config file")
            continue
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: {e}") from e
        if path.endswith("pyproject.toml"):
            data = data.get("tool", {}).get("fencecheck")
            if data is None:
                continue
        elif path.endswith(".fencecheck.toml") and "tool" in data:
            data = data["tool"].get("fencecheck", {})
        return parse(data, path)
    return Config()
