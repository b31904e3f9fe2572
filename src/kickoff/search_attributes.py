"""Typed search attributes: how ops find runs in the Temporal UI and how the API lists them.

Search attributes are stored unencrypted, so they hold no personal data:
pipeline id, stage id, pipeline version, a task count, the kick-off
outcome and customer segment (the pipeline's own words), and the reason a
cycle restarted. The responsible
advisor's name is personal data: it stays in the run's state.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

PIPELINE = SearchAttributeKey.for_keyword("KickoffPipeline")
STAGE = SearchAttributeKey.for_keyword("KickoffStage")
PIPELINE_VERSION = SearchAttributeKey.for_keyword("KickoffPipelineVersion")
OPEN_TASKS = SearchAttributeKey.for_int("KickoffOpenTasks")

RETRYING_ACTIONS = SearchAttributeKey.for_int("KickoffRetryingActions")
"""Mails the run has been waiting on for a while (SMTP retries): > 0 means look at it."""
OUTCOME = SearchAttributeKey.for_keyword("KickoffOutcome")
SEGMENT = SearchAttributeKey.for_keyword("KickoffSegment")

RESTART_REASON = SearchAttributeKey.for_keyword("KickoffRestartReason")
"""Why a run's cycle began (``no_show``, ``rescheduled``): set on the runs of cycle 2 on."""

READ_MODEL_BEHIND = SearchAttributeKey.for_bool("KickoffReadModelBehind")
"""True while the run's last read-model write failed: the staff views may be stale for it."""

ALL = (
    PIPELINE,
    STAGE,
    PIPELINE_VERSION,
    OPEN_TASKS,
    RETRYING_ACTIONS,
    OUTCOME,
    SEGMENT,
    RESTART_REASON,
    READ_MODEL_BEHIND,
)
