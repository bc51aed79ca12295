"""The console's calls to the services that own the data, on the visitor's behalf.

The archive is called with the official's own bearer token (and the purpose they stated); intake
with a short identity assertion the archive signs for that token, so intake authorises the
person without sharing the archive's database.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from services.console.session import Session

RENEW_S = 15  # an assertion this close to its end is not used again


class SessionEnded(Exception):
    """The archive no longer knows the token (idle too long, logged out, account disabled)."""


class Unavailable(Exception):
    """A service did not answer: the page says so and asks to try again."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: httpx.Headers
    content: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def field_errors(self) -> dict[str, str]:
        """Field path → the reason in Chinese, for showing next to the form field."""
        if not isinstance(self.body, dict):
            return {}
        return {str(e.get("field", "")): str(e.get("reason_zh") or e.get("reason") or "")
                for e in self.body.get("errors") or [] if isinstance(e, dict)}

    def message_zh(self) -> str:
        if isinstance(self.body, dict) and self.body.get("message_zh"):
            return str(self.body["message_zh"])
        return "操作未能完成，请稍后重试。"


def _answer(response: httpx.Response) -> Answer:
    body: Any = None
    if response.headers.get("content-type", "").startswith("application/json"):
        try:
            body = response.json()
        except ValueError:
            body = None
    return Answer(response.status_code, body, response.headers, response.content)


class Backend:
    def __init__(self, archive_url: str, intake_url: str, timeout_s: float = 15.0) -> None:
        self.archive_http = httpx.AsyncClient(base_url=archive_url, timeout=timeout_s)
        self.intake_http = httpx.AsyncClient(base_url=intake_url, timeout=timeout_s)

    async def close(self) -> None:
        await self.archive_http.aclose()
        await self.intake_http.aclose()

    async def _call(self, client: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> Answer:
        try:
            return _answer(await client.request(method, path, **kwargs))
        except httpx.HTTPError as exc:
            raise Unavailable(path) from exc

    async def archive(self, session: Session, method: str, path: str, *, purpose: str | None = None,
                      **kwargs: Any) -> Answer:
        headers = {"Authorization": f"Bearer {session.token}", **kwargs.pop("headers", {})}
        if purpose is not None:
            headers["X-Access-Purpose"] = quote(purpose)
        answer = await self._call(self.archive_http, method, path, headers=headers, **kwargs)
        if answer.status == 401:
            raise SessionEnded
        return answer

    async def login(self, username: str, password: str, client: str = "") -> Answer:
        """`client`: the visitor's address, for the archive's per-address limit (it trusts the console's)."""
        headers = {"X-Forwarded-For": client} if client and client != "-" else {}
        return await self._call(self.archive_http, "POST", "/v1/auth/token",
                                json={"username": username, "password": password}, headers=headers)

    async def logout(self, session: Session) -> None:
        with contextlib.suppress(SessionEnded, Unavailable):  # the cookie goes anyway; an idle token ends itself
            await self.archive(session, "POST", "/v1/auth/logout")

    async def intake_as(self, session: Session, method: str, path: str, **kwargs: Any) -> Answer:
        """Intake, as this member of staff: the archive vouches for them for two minutes. The assertion is
        kept in the session until shortly before it expires, so a page with several intake calls asks once."""
        extra = kwargs.pop("headers", {})
        for fresh in (False, True):
            assertion = session.assertion if not fresh and session.assertion_until - RENEW_S > time.time() else ""
            if not assertion:
                vouched = await self.archive(session, "POST", "/v1/auth/assertion")
                if not vouched.ok:
                    return vouched
                assertion = session.assertion = vouched.body["assertion"]
                session.assertion_until = datetime.fromisoformat(vouched.body["expires_at"]).timestamp()
            answer = await self._call(self.intake_http, method, path,
                                      headers={"Authorization": f"Bearer {assertion}", **extra}, **kwargs)
            if answer.status != 401:
                return answer
            session.assertion, session.assertion_until = "", 0.0  # refused: a fresh one, once
        raise SessionEnded

    async def archive_public(self, method: str, path: str, **kwargs: Any) -> Answer:
        """The archive's public reads (published notices): no account."""
        return await self._call(self.archive_http, method, path, **kwargs)

    async def intake_public(self, method: str, path: str, **kwargs: Any) -> Answer:
        """Intake's pages for families: no account, the access code or the case code and passcode."""
        return await self._call(self.intake_http, method, path, **kwargs)
