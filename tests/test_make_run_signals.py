"""`timeout N make run` stops everything: the real `make run` (embedded nats-server, PostgreSQL, mail sink and
the five services) in a temporary home on free ports, SIGTERM to `timeout` (which signals make, then make's
process group, as when the time is up), and every process it started is gone, promptly (~30-50 s in all)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from antibully.infra import free_port
from shared.config import ROOT

STARTUP_S = 150.0  # a loaded 2-core machine: PostgreSQL's initdb, migrations and five services
STOP_S = 30.0  # the launcher gives each service 15 s; they take well under a second


def _ppids() -> dict[int, int]:
    """pid → parent pid of every live process (Linux /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z":
            found[int(stat.parent.name)] = int(fields[1])
    return found


def descendants(root: int) -> set[int]:
    ppids = _ppids()
    found, todo = set(), [root]
    while todo:
        parent = todo.pop()
        children = {pid for pid, ppid in ppids.items() if ppid == parent}
        todo.extend(children - found)
        found |= children
    return found


def alive(pids: set[int]) -> set[int]:
    return pids & set(_ppids())


def _env(home: Path) -> dict[str, str]:
    """`make run`'s own defaults, but a temporary home and free ports (helpers and tests run beside it)."""
    drop = ("NATS_URL", "DATABASE_URL", "SMTP_HOST", "ALIYUN_ACCESS_KEY_ID", "TENCENT_SECRET_ID", "DEMO_DEADLINES",
            "INTAKE_WORKERS", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.endswith("_DATABASE_URL")}
    env["ANTIBULLY_HOME"] = str(home)
    for service in ("INTAKE", "ARCHIVE", "NOTIFY", "ESCALATION", "CONSOLE"):
        env[f"{service}_PORT"] = str(free_port())
        env[f"{service}_METRICS_PORT"] = str(free_port())
    return env


@pytest.mark.timeout(STARTUP_S + STOP_S + 60)
def test_sigterm_to_timeout_make_run_stops_every_process(tmp_path: Path) -> None:
    if shutil.which("timeout") is None or shutil.which("make") is None:
        pytest.fail("this test needs coreutils' timeout and make, as the README's `make run` does")
    home = tmp_path / "run"
    proc = subprocess.Popen(["timeout", "600", "make", "--no-print-directory", "-C", str(ROOT), "run"],
                            env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(line.decode(errors="replace") for line in proc.stdout),
                              daemon=True)
    reader.start()
    started: set[int] = set()
    postmaster: int | None = None
    try:
        deadline = time.monotonic() + STARTUP_S
        while not any("antibully is running" in line for line in lines):
            assert proc.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "".join(lines)[-3000:]
            time.sleep(0.5)
        started = descendants(proc.pid)
        postmaster = int((home / "pg" / "postmaster.pid").read_text().split()[0])  # pg_ctl detaches it
        names = {Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode() for pid in started}
        assert len([n for n in names if "-m services." in n]) == 5, names  # the four services and the console
        assert any("nats-server" in n for n in names), names
        assert alive({postmaster})

        signal_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_S)
        stopped_in = time.monotonic() - signal_at
        deadline = time.monotonic() + 5  # the last ones reaped by init
        while alive(started | {postmaster}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alive(started | {postmaster}) == set(), "".join(lines)[-3000:]
        assert stopped_in < STOP_S
        assert any("stopping" in line for line in lines)
    finally:
        for pid in alive(started | ({postmaster} if postmaster else set())):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        reader.join(timeout=10)
