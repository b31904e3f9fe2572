"""A worker that dies mid-mail at a chosen point, run as a subprocess by test_mail_crash.py.

It runs the workflow too: a mail's first try is a local activity, in the worker that runs
the workflow task.

``python -m tests.workflows.crashing_worker ADDRESS QUEUE SMTP_PORT LEDGER POINT`` where POINT is

* ``after-ledger``: SMTP accepted the mail and the ledger says "sent", but
  Temporal never hears that the activity completed;
* ``before-ledger``: SMTP accepted the mail, the ledger still says "data_started";
* ``before-data``: the relay accepted the recipient, the ledger says "claimed", DATA never
  started (nothing was sent).

Either way the process exits with 137, as if the kernel had killed it.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from temporalio.worker import Worker

from kickoff.activities import MailActivities, MailLedger, SmtpConfig
from kickoff.db import Database
from kickoff.temporal import connect
from kickoff.worker import WORKFLOW_RUNNER
from kickoff.workflows.onboarding import OnboardingWorkflow
from tests.support import kickoff_activities

KILLED = 137


class CrashingMail(MailActivities):
    def __init__(self, smtp: SmtpConfig, ledger: MailLedger, point: str) -> None:
        super().__init__(smtp, ledger)
        self.point = point

    async def _start_data(self, handover: Any) -> None:
        if self.point == "before-data":
            os._exit(KILLED)
        await super()._start_data(handover)

    async def _record_sent(self, message_id: str) -> None:
        if self.point == "before-ledger":
            os._exit(KILLED)
        await super()._record_sent(message_id)
        os._exit(KILLED)


async def main(address: str, queue: str, smtp_port: int, ledger: Path, point: str) -> None:
    client = await connect(address)
    mail = CrashingMail(
        SmtpConfig(host="127.0.0.1", port=smtp_port, mail_from="Kickoff <kickoff@test.example>"),
        # The test migrated the file before starting this process.
        MailLedger(Database(f"sqlite+aiosqlite:///{ledger}")),
        point,
    )
    async with Worker(
        client,
        task_queue=queue,
        workflows=[OnboardingWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=kickoff_activities(mail),
    ):
        await asyncio.Event().wait()


if __name__ == "__main__":
    address, queue, port, ledger, point = sys.argv[1:6]
    asyncio.run(main(address, queue, int(port), Path(ledger), point))
