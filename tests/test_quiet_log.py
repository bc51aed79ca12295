"""An idle system logs no ERROR (ERROR must mean someone has to act), and the one false alarm FastStream
0.7.8 raises on an empty long poll is filtered precisely: any other exception still logs."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from antibully.infra import NatsServer, SmtpSink
from shared.bus import IdleFetchTimeout
from tests.fault_rig import Rig, error_lines, rig_env
from tests.helpers import ServiceProcesses

IDLE_S = 60.0


def _record(exc: BaseException, message: str = "Task-7 raised an exception, retrying...") -> logging.LogRecord:
    return logging.LogRecord("antibully.faststream", logging.ERROR, __file__, 1, message, None,
                             (type(exc), exc, exc.__traceback__))


def _raised_in(filename: str, exc: BaseException) -> BaseException:
    """`exc` as raised by code living in `filename` (its traceback's last frame is there)."""
    code = compile("def fetch(e):\n    raise e\n", filename, "exec")
    scope: dict[str, object] = {}
    exec(code, scope)  # a frame with another file name, for the filter to look at
    try:
        scope["fetch"](exc)  # type: ignore[operator]
    except BaseException as raised:  # noqa: BLE001 - returned for inspection
        return raised
    raise AssertionError("not raised")


@pytest.mark.pure
def test_filter_drops_only_the_empty_long_poll() -> None:
    quiet = IdleFetchTimeout()
    nats_client = f"{sys.prefix}/lib/python3.11/site-packages/nats/js/client.py"
    assert not quiet.filter(_record(_raised_in(nats_client, TimeoutError())))
    assert quiet.filter(_record(_raised_in(nats_client, ValueError("nats: invalid subscription"))))
    assert quiet.filter(_record(_raised_in("/srv/antibully/shared/consumer.py", TimeoutError())))
    assert quiet.filter(_record(_raised_in(nats_client, TimeoutError()), "something else failed"))
    chatter = logging.LogRecord("antibully.faststream", logging.INFO, __file__, 1,
                                "callback for Task-12 is being executed...", None, None)
    assert not quiet.filter(chatter)
    chatter.levelno = logging.WARNING
    assert quiet.filter(chatter)


async def test_an_idle_system_logs_no_error(tmp_path: Path, nats_server: NatsServer, database: str,
                                            smtp_sink: SmtpSink) -> None:
    env = rig_env(nats_server.url, database, smtp_sink.port, LOG_LEVEL="DEBUG")
    rig = Rig(env, ServiceProcesses(env, tmp_path), smtp_sink)
    try:
        await rig.start()
        await rig.post(1, 1.0, "before-idle")  # one report, so every consumer has fetched and gone idle
        await asyncio.sleep(IDLE_S)
    finally:
        rig.fleet.stop_all()
    assert rig.load.accepted and len(smtp_sink.messages) == 8
    assert error_lines(tmp_path) == []
    assert lines_with(tmp_path, "is being executed") == []  # FastStream's supervisor, once per idle long poll
    assert stopped_cleanly(tmp_path) == ["archive", "escalation", "intake", "notify"]


def lines_with(logs: Path, text: str) -> list[str]:
    return [line for f in logs.glob("*.log") for line in f.read_text().splitlines() if text in line]


def stopped_cleanly(logs: Path) -> list[str]:
    return sorted(f.stem for f in logs.glob("*.log") if "stopping" in f.read_text())
