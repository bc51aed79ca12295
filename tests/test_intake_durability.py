"""Kill nats-server in the middle of a load of reports: every 2xx must be there afterwards, and every
other answer must be safely retryable — the retry succeeds and nothing is stored twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from antibully.cli import add_school
from antibully.infra import NatsServer
from services.intake.app import running
from shared.config import Settings
from shared.contracts import IncidentReported
from shared.subjects import REPORTS
from tests.helpers import eventually, report, stream_messages

REPORTS_SENT = 120


async def test_nats_killed_mid_load(settings: Settings, nats_server: NatsServer) -> None:
    key = await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
    answers: dict[str, httpx.Response] = {}
    async with running(settings), httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.intake_port}", timeout=15
    ) as client:

        async def post(i: int) -> None:
            idem = f"load-{i:04d}"
            answers[idem] = await client.post("/v1/incidents", json=report(), headers={
                "Authorization": f"Bearer {key}", "Idempotency-Key": idem})

        async def load() -> None:
            tasks = []
            for i in range(REPORTS_SENT):
                tasks.append(asyncio.create_task(post(i)))
                await asyncio.sleep(0.02)  # ~50 reports/s, open loop
            await asyncio.gather(*tasks)

        async def outage() -> NatsServer:
            await asyncio.sleep(0.6)
            assert nats_server.proc is not None
            nats_server.proc.kill()
            nats_server.proc.wait()
            await asyncio.sleep(1.0)
            return NatsServer(nats_server.store_dir, port=nats_server.port, key=nats_server.key, keys=nats_server.keys,
                           admin_password=nats_server.admin_password).start()

        _, restarted = await asyncio.gather(load(), outage())
        try:
            codes = Counter(r.status_code for r in answers.values())
            assert set(codes) <= {202, 503}, codes
            assert codes[202] > 0 and codes[503] > 0, f"the outage did not overlap the load: {codes}"
            assert all(int(r.headers["Retry-After"]) > 0 for r in answers.values() if r.status_code == 503)

            accepted = {idem: r.json()["incident_id"] for idem, r in answers.items() if r.status_code == 202}
            stored_before_retry = {
                str(IncidentReported.model_validate_json(m.data).incident_id)
                for m in await stream_messages(settings.nats_url, REPORTS.name)
            }
            assert set(accepted.values()) <= stored_before_retry  # every 202 survived the SIGKILL

            for idem, r in answers.items():
                if r.status_code != 202:

                    async def retried(idem: str = idem) -> httpx.Response | None:
                        again = await client.post("/v1/incidents", json=report(), headers={
                            "Authorization": f"Bearer {key}", "Idempotency-Key": idem})
                        return again if again.status_code == 202 else None

                    await eventually(retried, timeout_s=30, interval_s=0.5)
            stored = [IncidentReported.model_validate_json(m.data).incident_id
                      for m in await stream_messages(settings.nats_url, REPORTS.name)]
            assert len(stored) == len(set(stored)) == REPORTS_SENT  # each report exactly once
            print(f"\noutage under load: {dict(codes)} answered; after retries {len(stored)} stored, no duplicates")
        finally:
            restarted.stop()
