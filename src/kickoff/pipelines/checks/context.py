"""What every check of one pipeline consults, built once per pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import jinja2

from kickoff.pipelines.model import Pipeline

Loc = tuple[str | int, ...]
"""A pydantic-style path into the YAML document, e.g. ``("pipelines", "assist-se", "stages", 0)``."""
Problems = Iterator[tuple[Loc, str]]
"""What a check yields: each problem's path and message."""

FIXED_ANCHORS = ("signed_at", "delivery_start", "entered")
"""Anchors every run has: from the contract and the stage entry, not from an event."""


@dataclass(frozen=True)
class Context:
    """One pipeline and the names its parts may refer to."""

    at: Loc
    pid: str
    """The key the pipeline is filed under in the file."""
    pipeline: Pipeline
    stage_ids: tuple[str, ...]
    known_stages: frozenset[str]
    anchors: frozenset[str]
    """Every anchor a step or a due date may count from."""
    gated: frozenset[str]
    """Stages that require a checklist, which only an event may move a run into."""
    env: jinja2.Environment

    @classmethod
    def of(cls, at: Loc, pid: str, pipeline: Pipeline) -> Context:
        """The context of ``pipeline``, filed under ``pid`` at path ``at``."""
        stage_ids = tuple(pipeline.stage_ids())
        anchors = {
            *FIXED_ANCHORS,
            *(f"entered:{sid}" for sid in stage_ids),
            *(f"contract:{name}" for name in pipeline.contract_dates),
        }
        for event in pipeline.events.values():
            anchors.update(event.anchors)
            anchors.update(event.stamps)
        return cls(
            at=at,
            pid=pid,
            pipeline=pipeline,
            stage_ids=stage_ids,
            known_stages=frozenset(stage_ids),
            anchors=frozenset(anchors),
            gated=frozenset(stage.id for stage in pipeline.stages if stage.requires),
            env=jinja2.Environment(autoescape=False),  # noqa: S701 - plain-text mail, never HTML
        )

    def loc(self, *parts: str | int) -> Loc:
        """The path of ``parts`` inside this pipeline."""
        return (*self.at, *parts)


def stage_ref(ctx: Context, loc: Loc, ref: str | None, what: str) -> Problems:
    """A reference to a stage must name one of the pipeline's stages."""
    if ref is not None and ref not in ctx.known_stages:
        yield loc, f"{what} refers to unknown stage {ref!r} (stages: {', '.join(ctx.stage_ids)})"


def language_ref(ctx: Context, loc: Loc, language: str) -> Problems:
    """A language named anywhere must be one the pipeline offers."""
    if language not in ctx.pipeline.languages:
        yield loc, f"language {language!r} is not among languages {list(ctx.pipeline.languages)}"


def anchor_ref(ctx: Context, loc: Loc, name: str) -> Problems:
    """A moment or a due date counts from an anchor a run can have."""
    if name not in ctx.anchors:
        yield loc, f"unknown anchor {name!r} (known: {', '.join(sorted(ctx.anchors))})"
