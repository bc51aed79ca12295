"""Readiness of an edge whose dependencies are other services' HTTP APIs (the console: archive, intake).

A background probe asks each upstream's own /readyz every few seconds; /readyz here answers from the
last answers, so a load balancer's probe never waits on another service. An upstream that is up but
not ready (its database away) counts as down: the console could not serve its pages either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from prometheus_client import CollectorRegistry, Gauge

from shared.tasks import BackgroundLoop

log = logging.getLogger("antibully.health")

PROBE_TIMEOUT_S = 2.0


class Upstreams:
    def __init__(self, service: str, urls: dict[str, str], registry: CollectorRegistry,
                 interval_s: float = 2.0) -> None:
        self.service = service
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self.interval_s = interval_s
        self._up = dict.fromkeys(self.urls, False)
        gauge = Gauge("antibully_dependency_up", "1 while the service reaches the dependency",
                      ["service", "dependency"], registry=registry)
        for name in self.urls:
            gauge.labels(service, name).set_function(lambda name=name: float(self._up[name]))  # type: ignore[misc]
        self.loop = BackgroundLoop("upstream-probe", self._run)

    def status(self) -> dict[str, str]:
        return {name: "up" if up else "down" for name, up in self._up.items()}

    async def probe(self, client: httpx.AsyncClient) -> None:
        for name, url in self.urls.items():
            try:
                up = (await client.get(f"{url}/readyz")).status_code == 200
            except httpx.HTTPError:
                up = False
            if up != self._up[name]:
                (log.info if up else log.warning)("%s: %s is %s", self.service, name, "ready" if up else "not ready")
            self._up[name] = up

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
            while True:
                with contextlib.suppress(Exception):
                    await self.probe(client)
                await asyncio.sleep(self.interval_s)
