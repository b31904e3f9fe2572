"""Typed search attributes: how ops find runs in the Temporal UI and how the API lists them.

Search attributes are stored unencrypted, so they hold no personal data:
pipeline id, stage id, pipeline version and a task count only.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PIPELINE = SearchAttributeKey.for_keyword("KickoffPipeline")
STAGE = SearchAttributeKey.for_keyword("KickoffStage")
PIPELINE_VERSION = SearchAttributeKey.for_keyword("KickoffPipelineVersion")
OPEN_TASKS = SearchAttributeKey.for_int("KickoffOpenTasks")

ALL = (PIPELINE, STAGE, PIPELINE_VERSION, OPEN_TASKS)
