"""The image's HEALTHCHECK command (`python -m antibully.healthcheck`) against real loopback HTTP servers:
healthy on 200, unhealthy on 503 and when nothing listens; the service found from a container's command."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from antibully.healthcheck import port_of, service_of
from antibully.infra import free_port
from shared.config import ROOT


@pytest.mark.pure
def test_the_service_is_read_from_the_containers_command() -> None:
    assert service_of(["python", "-m", "services.notify", ""]) == "notify"
    assert service_of(["/opt/antibully/bin/python", "-m", "services.console"]) == "console"
    assert service_of(["python", "-m", "antibully.cli", "nats-setup"]) is None
    assert service_of([]) is None


@pytest.mark.pure
def test_the_port_is_the_services_setting_or_its_default() -> None:
    assert port_of("intake", {}) == 8080
    assert port_of("escalation", {}) == 8083
    assert port_of("archive", {"archive_port": "9999"}) == 9999
    assert port_of("console", {"CONSOLE_PORT": "18088", "INTAKE_PORT": "1"}) == 18088


class _Answer(http.server.BaseHTTPRequestHandler):
    status = 200
    paths: list[str]

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[http.server.HTTPServer, list[str]]]:
    paths: list[str] = []
    handler = type("Handler", (_Answer,), {"paths": paths})
    httpd = http.server.HTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd, paths
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "antibully.healthcheck"], cwd=ROOT, capture_output=True, text=True,
                          timeout=30, check=False, env={**os.environ, **env})


def test_healthy_only_while_the_service_answers_200(server: tuple[http.server.HTTPServer, list[str]]) -> None:
    httpd, paths = server
    port = str(httpd.server_address[1])
    assert _check({"ANTIBULLY_SERVICE": "archive", "ARCHIVE_PORT": port}).returncode == 0
    assert _check({"ANTIBULLY_SERVICE": "console", "CONSOLE_PORT": port}).returncode == 0
    assert paths == ["/readyz", "/healthz"]
    httpd.RequestHandlerClass.status = 503  # type: ignore[attr-defined]
    answer = _check({"ANTIBULLY_SERVICE": "archive", "ARCHIVE_PORT": port})
    assert answer.returncode == 1
    assert "503" in answer.stdout


def test_unhealthy_when_nothing_listens_or_the_service_is_unknown() -> None:
    assert _check({"ANTIBULLY_SERVICE": "intake", "INTAKE_PORT": str(free_port())}).returncode == 1
    answer = _check({"ANTIBULLY_SERVICE": "mailer"})
    assert answer.returncode == 1
    assert "not one of" in answer.stderr
