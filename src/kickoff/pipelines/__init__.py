"""Pipeline definitions: the typed model and the validating loader."""

from kickoff.pipelines.loader import (
    PipelineCatalog,
    PipelineError,
    Problem,
    load_pipelines,
    parse_pipelines,
    pipeline_version,
)
from kickoff.pipelines.model import Action, EntryKind, Event, MailTemplate, Moment, Pipeline, Stage, Step

__all__ = [
    "Action",
    "EntryKind",
    "Event",
    "MailTemplate",
    "Moment",
    "Pipeline",
    "PipelineCatalog",
    "PipelineError",
    "Problem",
    "Stage",
    "Step",
    "load_pipelines",
    "parse_pipelines",
    "pipeline_version",
]
