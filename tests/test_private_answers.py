"""Answers that may carry personal data are never cached and never leak a referrer (issue 14): intake's
and the archive's API answers (errors included), notify's pages and the console's, on the real services."""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx

from antibully.cli import add_access_code, add_school
from antibully.infra import free_port
from services.archive.app import running as archive
from services.console.app import running as console
from services.intake.app import running as intake
from services.notify.app import running as notify
from shared.config import Settings
from tests.helpers import official_headers


def private(r: httpx.Response) -> bool:
    return r.headers.get("cache-control") == "no-store" and r.headers.get("referrer-policy") == "no-referrer"


async def test_every_answer_with_personal_data_is_private(settings: Settings) -> None:
    settings = settings.model_copy(update={"console_port": free_port(), "console_dev_mode": True})
    async with AsyncExitStack() as stack:
        for running in (intake, archive, notify, console):
            await stack.enter_async_context(running(settings))  # type: ignore[operator]
        await add_school(settings.database_url, "demo-school", "乐昌市示范中学")
        code = await add_access_code(settings.database_url, "demo-school")
        async with httpx.AsyncClient(timeout=10) as c:
            i, a = f"http://127.0.0.1:{settings.intake_port}", f"http://127.0.0.1:{settings.archive_port}"
            n, k = f"http://127.0.0.1:{settings.notify_port}", f"http://127.0.0.1:{settings.console_port}"
            asked = await c.post(f"{i}/v1/help-requests", json={
                "access_code": code, "requester": {"kind": "student"}, "message": "我被同学打了。"})
            assert asked.status_code == 202 and private(asked)
            view = await c.get(f"{i}/v1/help-requests/{asked.json()['case_code']}",
                               headers={"X-Passcode": asked.json()["passcode"]})
            assert view.status_code == 200 and private(view)
            assert private(await c.post(f"{i}/v1/incidents", json={}))  # an error too

            async with httpx.AsyncClient(base_url=a, timeout=10) as archive_client:
                bureau = await official_headers(archive_client, settings.database_url, "private-bureau")
                token = await archive_client.post("/v1/auth/token", json={"username": "nobody", "password": "x"})
                assert private(token)
                cases = await archive_client.get("/v1/cases", headers=bureau)
                assert cases.status_code == 200 and private(cases)

            assert private(await c.get(f"{n}/ack/not-a-token"))
            assert private(await c.get(f"{k}/login"))
