"""Strict-ish priority between notify's lanes inside one process (issue 12).

Separate consumers and slots keep an urgent notice from waiting for a slot; but notify's work is
mostly CPU and database round trips on few cores, so lower lanes running at full width still take
most of the process's time. While any urgent notice is being handled, standard and bulk together
start at most `lower_while_urgent` new handlers (those already running finish): the urgent lane
gets the process, and lower lanes still trickle instead of starving.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class PriorityGate:
    def __init__(self, lower_while_urgent: int = 1) -> None:
        self.lower_while_urgent = lower_while_urgent
        self.urgent = 0
        self.lower = 0
        self._changed = asyncio.Condition()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


class LaneSlot:
    """A lane's limiter for `DurableConsumers.subscribe`: its own slots, then the gate."""

    def __init__(self, slots: int, gate: PriorityGate, *, urgent: bool) -> None:
        self._slots = asyncio.Semaphore(slots)
        self._gate = gate
        self._urgent = urgent

    async def __aenter__(self) -> None:
        await self._slots.acquire()
        gate = self._gate
        if self._urgent:
            gate.urgent += 1
            return
        try:
            async with gate._changed:
                await gate._changed.wait_for(lambda: gate.urgent == 0 or gate.lower < gate.lower_while_urgent)
                gate.lower += 1
        except BaseException:
            self._slots.release()
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        gate = self._gate
        if self._urgent:
            gate.urgent -= 1
        else:
            gate.lower -= 1
        self._slots.release()
        await gate._notify()
