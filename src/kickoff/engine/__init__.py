"""The interpreter's pure core: a run's state machine, its plan, its rules and its messages.

Nothing here imports ``temporalio``, reads a clock or performs I/O: the workflow
in ``kickoff.workflows`` is a thin shell that feeds it time and events and
performs the mail it leaves in its queue. Unit tests drive the same core with a
plain clock (``engine.drive``).
"""

from kickoff.engine.messages import Mail, Work, describe_mail
from kickoff.engine.rules import Invalid, NotNow, Refusal, Unknown
from kickoff.engine.run import Run

__all__ = ["Invalid", "Mail", "NotNow", "Refusal", "Run", "Unknown", "Work", "describe_mail"]
