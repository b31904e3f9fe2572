"""Sleeping until a run's next step: one timer, kept for as long as the plan stands.

Runs started by this release keep their timer when an event or a mail wakes the run
and the next step's moment has not changed; they cancel it only when the plan did.
Runs started earlier replay what they did then: a new timer each time they waited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow


class Sleeper:
    def __init__(self, state_first: bool, woken: Callable[[], bool]) -> None:
        self._state_first = state_first
        self._woken = woken
        self._timer: asyncio.Task[None] | None = None
        self._due: datetime | None = None

    async def until(self, due: datetime, summary: str) -> bool:
        """Sleep until ``due`` or until woken; True when the step's moment has come."""
        delay = due - workflow.now()
        if delay <= timedelta(0):
            return True
        if not self._state_first:
            try:
                await workflow.wait_condition(self._woken, timeout=delay, timeout_summary=summary)
                return False  # an event arrived first: re-plan from the new state
            except TimeoutError:
                # The timer and an event can land in the same activation: if an event came
                # too, re-plan, as the step may belong to a stage left.
                return not self._woken()
        if self._timer is None or self._due != due:
            # The plan changed (or there was no timer): one timer for the new moment.
            self.drop()
            self._timer, self._due = asyncio.create_task(workflow.sleep(delay, summary=summary)), due
        timer = self._timer
        await workflow.wait_condition(lambda: self._woken() or timer.done())
        if timer.done() and not self._woken():
            self._timer = None
            return True
        return False

    def drop(self) -> None:
        """Cancel the timer, if one runs: nothing is planned, or the run ends or continues as
        new (the time-skipping test server would otherwise keep its clock for it)."""
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = None
