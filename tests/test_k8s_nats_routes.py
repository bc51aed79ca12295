"""The certificate `antibully nats-certs` makes serves the NATS chart's cluster as deploy/k8s/nats-values.yaml
sets it up: TLS on the routes, where each server verifies the other's certificate against the CA (mutual
TLS: the certificate must allow client authentication too). Two real nats-servers on loopback."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest

from antibully.infra import free_port, nats_server_binary
from antibully.nats_admin import make_certificates


def _conf(name: str, client: int, route: int, monitor: int, peers: list[int], certs: Path) -> str:
    routes = ", ".join(f'"tls://127.0.0.1:{p}"' for p in peers)
    tls = f'cert_file: "{certs / "server.pem"}", key_file: "{certs / "server-key.pem"}", ca_file: "{certs / "ca.pem"}"'
    return (f"server_name: {name}\nlisten: 127.0.0.1:{client}\nhttp: 127.0.0.1:{monitor}\n"
            f"cluster {{\n  name: antibully\n  listen: 127.0.0.1:{route}\n  routes: [{routes}]\n"
            f"  tls {{ {tls} }}\n}}\n")


def _routes(monitor: int) -> int:
    try:
        return int(httpx.get(f"http://127.0.0.1:{monitor}/routez", timeout=1).json()["num_routes"])
    except httpx.HTTPError:
        return 0


@pytest.mark.timeout(60)
def test_two_servers_join_over_route_tls_with_the_nats_certs_certificate(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    make_certificates(certs, ("127.0.0.1",))
    ports = [(free_port(), free_port(), free_port()) for _ in range(2)]
    routes = [route for _, route, _ in ports]
    procs = []
    try:
        for i, (client, route, monitor) in enumerate(ports):
            conf = tmp_path / f"s{i}.conf"
            conf.write_text(_conf(f"s{i}", client, route, monitor, routes, certs))
            log = (tmp_path / f"s{i}.log").open("w")
            procs.append(subprocess.Popen([nats_server_binary(), "-c", str(conf)], stdout=log, stderr=log))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(_routes(m) >= 1 for _, _, m in ports):
            time.sleep(0.2)
        logs = "".join((tmp_path / f"s{i}.log").read_text() for i in range(2))
        assert all(_routes(m) >= 1 for _, _, m in ports), logs[-2000:]
        assert "handshake error" not in logs, logs[-2000:]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)
