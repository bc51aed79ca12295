"""The image's HEALTHCHECK: `python -m antibully.healthcheck` asks this container's service for its health.

One image runs five services on five ports, and Docker's HEALTHCHECK can't know which one a `command:`
chose: the service is ANTIBULLY_SERVICE if set, else read from PID 1's command line (`python -m
services.<name>`; a one-shot job such as `antibully migrate` counts as healthy); its port from
<SERVICE>_PORT, else the default in shared/config.py. A plain urllib request on loopback: no client
library, no event loop. Exit 0: healthy; 1: not.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

SERVICES = ("intake", "escalation", "notify", "archive", "console")
# /readyz (503 while NATS, PostgreSQL or the consumers are away); the console /healthz: it stays in rotation while
# the archive is away, to tell people so, and its /readyz (the archive's and intake's) is for dashboards.
PATHS = {"intake": "/readyz", "escalation": "/readyz", "notify": "/readyz", "archive": "/readyz",
         "console": "/healthz"}


def service_of(cmdline: list[str]) -> str | None:
    """`services.<name>` in a command line (python -m services.intake, or a path to services/intake)."""
    for arg in cmdline:
        for name in SERVICES:
            if arg in (f"services.{name}", f"services/{name}") or arg.endswith(f"/services/{name}/__main__.py"):
                return name
    return None


def _pid1_cmdline() -> list[str]:
    try:
        return Path("/proc/1/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def port_of(service: str, env: dict[str, str]) -> int:
    """<SERVICE>_PORT as the service itself reads it (pydantic-settings, case-insensitive), else its default."""
    from shared.config import Settings

    wanted = f"{service}_port"
    for key, value in env.items():
        if key.lower() == wanted and value.strip():
            return int(value)
    default = Settings.model_fields[wanted].default
    assert isinstance(default, int)
    return default


def probe(service: str, port: int, timeout_s: float = 3.0) -> tuple[bool, str]:
    url = f"http://127.0.0.1:{port}{PATHS[service]}"
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:
            return answer.status == 200, f"{url}: {answer.status}"
    except urllib.error.HTTPError as e:
        return False, f"{url}: {e.code}"
    except (OSError, ValueError) as e:
        return False, f"{url}: {e}"


def main() -> int:
    env = dict(os.environ)
    service = env.get("ANTIBULLY_SERVICE")
    if service is None:
        service = service_of(_pid1_cmdline())
        if service is None:  # a one-shot job in this image (antibully migrate, nats-setup): nothing listens
            print("healthcheck: this container runs no service (set ANTIBULLY_SERVICE to check one)")
            return 0
    if service not in SERVICES:
        print(f"healthcheck: ANTIBULLY_SERVICE={service!r} is not one of {', '.join(SERVICES)}", file=sys.stderr)
        return 1
    port = port_of(service, env)
    if port == 0:
        print(f"healthcheck: {service} has no health port ({service.upper()}_PORT=0)", file=sys.stderr)
        return 1
    healthy, detail = probe(service, port)
    print(f"healthcheck: {service} {detail}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
