"""Stage 6: findings -> SARIF 2.1.0, for GitHub code scanning.

Built with sarif-om and serialized here: sarif-om's own serializer drops
properties equal to the schema default, ``level`` "warning" among them,
which GitHub then shows as a note-less result.  A module of its own, which
the command line imports only for SARIF output: sarif-om and attrs took
90 ms of the 300 ms its imports took (bytecode compiled).
"""
from __future__ import annotations

import gzip
import json

import attr
import sarif_om as om

from .. import __version__
from .. import rules as rule_registry
from .discover import UsageError
from .pipeline import ScanResult
from .reach import Finding, Step
from .report import BENIGN_SKIPS, LEVEL
from .sources import SourceLines

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/fencecheck/fencecheck"
# GitHub code scanning's ingestion limits: past them an upload is rejected whole.
GITHUB_MAX_RESULTS = 25_000
GITHUB_MAX_FLOW_LOCATIONS = 10_000
GITHUB_MAX_GZIP_BYTES = 10 * 1000 * 1000


def _location(step: Step, cols: SourceLines, message: str | None = None) -> om.Location:
    return om.Location(
        physical_location=om.PhysicalLocation(
            artifact_location=om.ArtifactLocation(uri=step.file, uri_base_id="%SRCROOT%"),
            region=om.Region(start_line=step.line, start_column=cols.utf16_column(step.file, step.line, step.col))),
        logical_locations=[om.LogicalLocation(fully_qualified_name=step.function, kind="function")],
        message=om.Message(text=message) if message else None)


def _rules() -> list[om.ReportingDescriptor]:
    out = []
    for module in rule_registry.SINK_MODULES + rule_registry.INVERSION_MODULES:
        doc = module.DOC
        out.append(om.ReportingDescriptor(
            id=module.ID, name="".join(p.capitalize() for p in module.ID.split("_")),
            short_description=om.MultiformatMessageString(text=doc.title),
            full_description=om.MultiformatMessageString(text=doc.finds),
            help=om.MultiformatMessageString(text=doc.text(module.ID), markdown=doc.markdown(module.ID)),
            default_configuration=om.ReportingConfiguration(level=LEVEL),
            properties={"tags": list(module.TAGS), "precision": module.PRECISION,
                        "problem.severity": "warning"}))
    return out


def _code_flow(steps, cols: SourceLines, message: str) -> om.CodeFlow:
    if len(steps) > GITHUB_MAX_FLOW_LOCATIONS:   # keep both ends: the entry and the sink
        half = GITHUB_MAX_FLOW_LOCATIONS // 2
        steps = steps[:half] + steps[-half:]
    return om.CodeFlow(message=om.Message(text=message), thread_flows=[om.ThreadFlow(locations=[
        om.ThreadFlowLocation(location=_location(step, cols, step.text), nesting_level=i, execution_order=i)
        for i, step in enumerate(steps)])])


def _result(f: Finding, rule_index: int, cols: SourceLines, suppressed=None, baseline_used=False) -> om.Result:
    flows = [_code_flow(f.steps, cols, f"from the context entry {f.entry}")]
    properties = {"context": f.context, "sink": f.sink, "entry": f.entry, "entryHow": f.entry_how}
    if f.related:
        flows.append(_code_flow(f.related, cols, f"{f.lock} held across a forbidden operation"))
        properties["lock"] = f.lock
    return om.Result(
        rule_id=f.rule, rule_index=rule_index, level=LEVEL,
        message=om.Message(text=f.message + (f". Fix: {f.fix}" if f.fix else "")),
        locations=[_location(f.location, cols)],
        related_locations=[_location(st, cols, st.text) for st in f.related] or None,
        code_flows=flows, properties=properties,
        partial_fingerprints=({"primaryLocationLineHash": line_hash}
                              if (line_hash := cols.line_hash(f.location.file, f.location.line)) else None),
        suppressions=[om.Suppression(kind=suppressed.kind, justification=suppressed.reason)] if suppressed else None,
        baseline_state="new" if baseline_used and not suppressed else None)


def to_sarif(result: ScanResult, root: str, category: str = "fencecheck/") -> str:
    cols = SourceLines(root)
    rules = _rules()
    findings = result.findings
    dropped = len(findings) - GITHUB_MAX_RESULTS
    if dropped > 0:
        findings = findings[:GITHUB_MAX_RESULTS]
    index = {r.id: i for i, r in enumerate(rules)}
    notifications = [
        om.Notification(
            message=om.Message(text=f"skipped {s.rel}: {s.reason}" + (f" ({s.detail})" if s.detail else "")),
            level="note" if s.reason in BENIGN_SKIPS else "warning",
            descriptor=om.ReportingDescriptorReference(id=f"skipped/{s.reason}"),
            locations=[om.Location(physical_location=om.PhysicalLocation(
                artifact_location=om.ArtifactLocation(uri=s.rel, uri_base_id="%SRCROOT%")))])
        for s in result.skipped]
    notifications += [om.Notification(message=om.Message(text=note), level="note",
                                      descriptor=om.ReportingDescriptorReference(id="cache"))
                      for note in result.stats.notes]
    if dropped > 0:
        notifications.append(om.Notification(
            level="error", descriptor=om.ReportingDescriptorReference(id="github-limits"),
            message=om.Message(text=f"{dropped} result(s) omitted: GitHub code scanning accepts at most "
                                    f"{GITHUB_MAX_RESULTS} results per run; narrow the scan or use a baseline")))
    stats = result.stats
    run = om.Run(
        tool=om.Tool(driver=om.ToolComponent(
            name="fencecheck", version=__version__, semantic_version=__version__,
            information_uri=INFO_URI, rules=rules)),
        automation_details=om.RunAutomationDetails(id=category),
        column_kind="utf16CodeUnits",
        invocations=[om.Invocation(
            execution_successful=True, tool_execution_notifications=notifications or None,
            properties={"skipped": dict(sorted(stats.skipped.items())), "filesParsed": stats.files_parsed,
                        "functions": stats.functions})],
        results=[_result(f, index[f.rule], cols, baseline_used=result.baseline_used) for f in findings]
        + [_result(x.finding, index[x.finding.rule], cols, suppressed=x) for x in result.suppressed])
    log = om.SarifLog(version="2.1.0", schema_uri=SARIF_SCHEMA, runs=[run])
    text = json.dumps(_plain(log)) + "\n"     # one line, as to_json
    size = len(gzip.compress(text.encode(), compresslevel=6))
    if size > GITHUB_MAX_GZIP_BYTES:
        raise SarifTooLarge(f"the SARIF log is {size / 1e6:.1f} MB gzipped; GitHub code scanning rejects uploads "
                            f"over {GITHUB_MAX_GZIP_BYTES / 1e6:.0f} MB: narrow the scan, use a baseline, "
                            "or upload per directory with distinct --category values")
    return text


class SarifTooLarge(UsageError):
    """The log is more than GitHub code scanning accepts: the scan must be
    narrowed (exit 2, as for any request that cannot be met)."""


# Properties sarif-om would drop as defaults but that readers rely on.
_ALWAYS_EMIT = frozenset({"level"})


def _plain(obj):
    """sarif-om object tree -> JSON-ready dicts, keeping explicit ``level``."""
    if attr.has(type(obj)):
        out = {}
        for a in attr.fields(type(obj)):
            value = getattr(obj, a.name)
            if value is None:
                continue
            default = a.default.factory() if isinstance(a.default, attr.Factory) else a.default
            if value == default and a.name not in _ALWAYS_EMIT:
                continue
            out[a.metadata.get("schema_property_name", a.name)] = _plain(value)
        return out
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj
