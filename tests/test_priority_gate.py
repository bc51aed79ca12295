"""The gate between notify's lanes (pure): an urgent handler never waits for a lower lane; while one
runs, lower lanes start at most one more; when it is done they go on."""

from __future__ import annotations

import asyncio

import pytest

from services.notify.priority_gate import LaneSlot, PriorityGate

pytestmark = pytest.mark.pure


async def _settle() -> None:
    """Let every ready task run until it blocks (no clock involved)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_lower_lanes_trickle_while_urgent_work_runs() -> None:
    gate = PriorityGate(lower_while_urgent=1)
    urgent, standard = LaneSlot(4, gate, urgent=True), LaneSlot(4, gate, urgent=False)
    running: list[str] = []
    release = asyncio.Event()

    async def lower(name: str) -> None:
        async with standard:
            running.append(name)
            await release.wait()

    async with urgent:
        tasks = [asyncio.create_task(lower(f"s{i}")) for i in range(3)]
        await _settle()  # every task has run as far as it can
        assert running == ["s0"]  # one trickles, the others wait for the urgent one
        async with urgent:  # a second urgent notice does not wait for the lower lane's slots
            assert gate.urgent == 2
    await _settle()
    assert sorted(running) == ["s0", "s1", "s2"]
    release.set()
    await asyncio.gather(*tasks)
    assert (gate.urgent, gate.lower) == (0, 0)


async def test_a_lower_slot_cancelled_while_waiting_gives_its_slot_back() -> None:
    gate = PriorityGate(lower_while_urgent=0)
    urgent, bulk = LaneSlot(1, gate, urgent=True), LaneSlot(1, gate, urgent=False)
    async with urgent:
        waiting = asyncio.create_task(bulk.__aenter__())
        await _settle()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
    async with bulk:  # its one slot is free again
        assert gate.lower == 1
