"""Reports: each measure names records, fields, stages and anchors the pipeline has."""

from __future__ import annotations

from kickoff.pipelines.checks.context import Context, Loc, Problems, anchor_ref, stage_ref
from kickoff.pipelines.model import PayloadField
from kickoff.pipelines.reports import BY_STAGE, RECORD_FIELD_TYPES, RecordMeasure, record_fields


def check_reports(ctx: Context) -> Problems:
    """Record measures name a kept record and its number or choice fields; compliance measures
    name known stages and anchors a run can have."""
    reports = ctx.pipeline.reports
    if reports is None:
        return
    fields = record_fields(ctx.pipeline.events)
    for mid, measure in reports.records.items():
        yield from _check_record_measure(ctx, ctx.loc("reports", "records", mid), measure, fields)
    for mid, share in reports.compliance.items():
        loc = ctx.loc("reports", "compliance", mid)
        if share.recent is not None:
            rloc = (*loc, "recent")
            names = share.recent.anchor_names()
            for index, name in enumerate(names):
                at = (*rloc, "anchor", index) if len(names) > 1 else (*rloc, "anchor")
                yield from _anchor(ctx, at, name)
            for index, sid in enumerate(share.recent.in_stages or ()):
                yield from stage_ref(ctx, (*rloc, "in_stages", index), sid, "in_stages")
        if share.reached_within is not None:
            wloc = (*loc, "reached_within")
            yield from _anchor(ctx, (*wloc, "anchor"), share.reached_within.anchor)
            stages = share.reached_within.stages
            for index, sid in enumerate(stages or ()):
                yield from stage_ref(ctx, (*wloc, "stages", index), sid, "stages")
            if stages is None and not any(stage.goal for stage in ctx.pipeline.stages):
                yield wloc, "the pipeline has no goal stage: name the stages that count as reached (stages)"


def _check_record_measure(
    ctx: Context, loc: Loc, measure: RecordMeasure, fields: dict[str, dict[str, PayloadField]]
) -> Problems:
    for index, sid in enumerate(measure.in_stages or ()):
        yield from stage_ref(ctx, (*loc, "in_stages", index), sid, "in_stages")
    declared = fields.get(measure.record)
    if declared is None:
        known = ", ".join(fields) or "none: no event declares record"
        yield (*loc, "record"), f"unknown record {measure.record!r} (records: {known})"
        return
    if measure.sum is not None:
        yield from _field(loc, "sum", measure.record, declared, measure.sum, ("number",), "summed")
    if measure.by == BY_STAGE:
        if BY_STAGE in declared:
            yield (
                (*loc, "by"),
                f"record {measure.record!r} has a field named {BY_STAGE!r}: 'by: stage' groups by the "
                "onboarding's stage, so rename the field to group by it",
            )
    elif measure.by is not None:
        kinds = tuple(kind for kind in RECORD_FIELD_TYPES if kind != "number")
        yield from _field(loc, "by", measure.record, declared, measure.by, kinds, "grouped by")


def _field(
    loc: Loc,
    key: str,
    record: str,
    declared: dict[str, PayloadField],
    name: str,
    kinds: tuple[str, ...],
    verb: str,
) -> Problems:
    spec = declared.get(name)
    if spec is None:
        yield (*loc, key), f"record {record!r} has no field {name!r} (fields: {', '.join(declared)})"
    elif spec.type not in kinds:
        extra = ", or by stage" if key == "by" else ""
        yield (
            (*loc, key),
            f"field {name!r} of record {record!r} is {spec.type}: only a {' or '.join(kinds)} field "
            f"can be {verb}{extra}",
        )


def _anchor(ctx: Context, loc: Loc, name: str) -> Problems:
    """A measure counts from an anchor a run keeps by name (not ``entered``, which moves)."""
    if name == "entered":
        yield loc, "'entered' is the current stage's entry: name the stage (entered:<stage>)"
        return
    yield from anchor_ref(ctx, loc, name)
