"""`timeout N make run` stops everything: the real `make run` (embedded nats-server, PostgreSQL, mail sink and
the five services) in a temporary home on free ports, SIGTERM to `timeout` (which signals make, then make's
process group, as when the time is up) once all runs (and the launcher again while it stops) and once while
PostgreSQL is starting, and every process it started is gone, promptly (~10-25 s each here)."""

from __future__ import annotations

import contextlib
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


def _is_launcher(cmdline: bytes) -> bool:
    args = cmdline.rstrip(b"\0").split(b"\0")
    return args[-1:] == [b"run"] and any(Path(a.decode()).name == "antibully" and b"/bin/" in a for a in args[:-1])


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


def mentioning(path: Path) -> set[int]:
    """Live processes whose command line names `path` (PostgreSQL's -D, nats-server's -sd): detached ones too."""
    found = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(path).encode() in cmdline.read_bytes():
                found.add(int(cmdline.parent.name))
        except OSError:
            continue
    return alive(found)


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


def _start(home: Path) -> tuple[subprocess.Popen[bytes], list[str], threading.Thread]:
    if shutil.which("timeout") is None or shutil.which("make") is None:
        pytest.fail("this test needs coreutils' timeout and make, as the README's `make run` does")
    proc = subprocess.Popen(["timeout", "600", "make", "--no-print-directory", "-C", str(ROOT), "run"],
                            env=_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    lines: list[str] = []
    assert proc.stdout is not None
    out = proc.stdout
    reader = threading.Thread(target=lambda: lines.extend(line.decode(errors="replace") for line in out), daemon=True)
    reader.start()
    return proc, lines, reader


def _clean_up(proc: subprocess.Popen[bytes], reader: threading.Thread, pids: set[int]) -> None:
    for pid in alive(pids):
        os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    reader.join(timeout=10)


@pytest.mark.timeout(STARTUP_S + STOP_S + 60)
def test_sigterm_while_postgresql_starts_leaves_nothing_behind(tmp_path: Path) -> None:
    """The signal lands while pg_ctl waits for the detached PostgreSQL it started: it is stopped all the same
    (it used to be left running)."""
    home = tmp_path / "run"
    proc, lines, reader = _start(home)
    started: set[int] = set()
    try:
        deadline = time.monotonic() + STARTUP_S
        while not (home / "pg" / "postmaster.pid").exists():  # pg_ctl has started it, and waits for it
            assert proc.poll() is None, "".join(lines)[-3000:]
            assert time.monotonic() < deadline, "".join(lines)[-3000:]
            time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)  # at once: pg_ctl polls every 0.1 s
        started = descendants(proc.pid) | mentioning(home)
        proc.wait(timeout=STOP_S + 30)  # PostgreSQL's start is finished first, then stopped
        deadline = time.monotonic() + 5
        while (alive(started) or mentioning(home)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (alive(started), mentioning(home)) == (set(), set()), "".join(lines)[-3000:]
        assert not any("antibully is running" in line for line in lines)
    finally:
        _clean_up(proc, reader, started | mentioning(home))


@pytest.mark.timeout(STARTUP_S + STOP_S + 60)
def test_sigterm_to_timeout_make_run_stops_every_process(tmp_path: Path) -> None:
    home = tmp_path / "run"
    proc, lines, reader = _start(home)
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

        # `…/bin/antibully run`, not make (`make -C <checkout> run`: in a checkout named antibully, its command
        # line holds "antibully", "run" too), and the topmost one: a child being forked shows it until exec
        runs = {pid for pid in started if _is_launcher(Path(f"/proc/{pid}/cmdline").read_bytes())}
        ppids = _ppids()
        launcher = [pid for pid in runs if ppids.get(pid) not in runs]
        assert len(launcher) == 1, ({pid: ppids.get(pid) for pid in runs}, "".join(lines)[-3000:])
        signal_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        # The launcher gets SIGTERM twice, from make and from timeout's signal to the group: usually at once,
        # sometimes apart. Apart, mid-way through the clean-up, the second must not cut it short.
        time.sleep(0.5)
        with contextlib.suppress(ProcessLookupError):
            os.kill(launcher[0], signal.SIGTERM)
        proc.wait(timeout=STOP_S)
        stopped_in = time.monotonic() - signal_at
        print(f"make run stopped {stopped_in:.1f} s after SIGTERM")
        deadline = time.monotonic() + 5  # the last ones reaped by init
        while alive(started | {postmaster}) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (alive(started | {postmaster}), mentioning(home)) == (set(), set()), "".join(lines)[-3000:]
        assert stopped_in < STOP_S
        assert any("stopping" in line for line in lines)
    finally:
        _clean_up(proc, reader, started | mentioning(home) | ({postmaster} if postmaster else set()))
