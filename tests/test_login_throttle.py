"""Archive logins are throttled before the password is verified (issue 14), on the real archive with real
PostgreSQL and real argon2id: parallel guesses cannot bypass a name's lock, one address cannot keep guessing,
and only a few verifications (64 MiB each) run at once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest

from antibully.officials import add_official
from services.archive import accounts
from services.archive.app import running
from shared.config import Settings
from tests.helpers import PASSWORD
from tests.helpers import MovedClock as Clock


class Counted:
    """The real verification, counted, with the most that ever ran at once."""

    def __init__(self, slow_s: float = 0.0) -> None:
        self.calls = 0
        self.running = 0
        self.most = 0
        self.slow_s = slow_s
        self._lock = threading.Lock()
        self._real = accounts._verify

    def __call__(self, password_hash: str, password: str) -> bool:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(self.slow_s)
            return self._real(password_hash, password)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counted]:
    c = Counted()
    monkeypatch.setattr(accounts, "_verify", c)
    yield c


@asynccontextmanager
async def _archive(settings: Settings, **update: object) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings.model_copy(update=update)
    async with running(settings, clock=Clock()), httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{settings.archive_port}", timeout=30) as client:
        yield client


def _guess(client: httpx.AsyncClient, name: str, password: str = "a wrong guess of a password",
           address: str | None = None) -> asyncio.Task[httpx.Response]:
    headers = {"X-Forwarded-For": address} if address else {}
    return asyncio.ensure_future(client.post("/v1/auth/token", json={"username": name, "password": password},
                                             headers=headers))


async def test_parallel_wrong_guesses_verify_at_most_max_failures(settings: Settings, counted: Counted) -> None:
    await add_official(settings.database_url, "police", role="police", jurisdiction="lechang", name="police",
                       password=PASSWORD)
    async with _archive(settings, archive_login_max_failures=5, archive_login_verifications=20,
                                 archive_login_per_address=0) as client:
        answers = await asyncio.gather(*(_guess(client, "police") for _ in range(20)))
        codes = sorted(r.status_code for r in answers)
        assert counted.calls <= 5, (counted.calls, codes)
        assert set(codes) == {401, 429} and codes.count(429) >= 15  # the 5th failure answers 429: now locked
        right = await client.post("/v1/auth/token", json={"username": "police", "password": PASSWORD})
        assert right.status_code == 429 and right.json()["error"] == "login_locked"  # the lock holds
        assert counted.calls <= 5  # and a locked name is refused without verifying


async def test_a_flood_from_one_address_is_limited(settings: Settings, counted: Counted) -> None:
    async with _archive(settings, archive_login_per_address=10, archive_login_max_failures=50) as client:
        answers = [await _guess(client, f"name-{i}", address="192.0.2.7") for i in range(15)]
        assert [r.status_code for r in answers] == [401] * 10 + [429] * 5
        assert answers[-1].json()["error"] == "too_many_attempts" and int(answers[-1].headers["Retry-After"]) > 0
        assert counted.calls == 10
        other = await _guess(client, "name-0", address="192.0.2.8")  # another address is not held back
        assert other.status_code == 401
        spoofed = await client.post("/v1/auth/token", json={"username": "x", "password": "y"},
                                    headers={"X-Forwarded-For": "192.0.2.9"})
        assert spoofed.status_code == 401  # 127.0.0.1 is a trusted forwarder here (the console)


async def test_an_untrusted_peer_cannot_choose_its_address(settings: Settings, counted: Counted,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "")  # uvicorn trusts no forwarder: 127.0.0.1 is a client here
    async with _archive(settings, archive_login_per_address=3) as client:
        codes = [(await _guess(client, f"n{i}", address=f"192.0.2.{i}")).status_code for i in range(5)]
        assert codes == [401, 401, 401, 429, 429]  # X-Forwarded-For ignored: all from 127.0.0.1


async def test_verifications_are_bounded_and_the_rest_answered_quickly(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = Counted(slow_s=0.5)
    monkeypatch.setattr(accounts, "_verify", slow)
    async with _archive(settings, archive_login_verifications=2, archive_login_busy_wait_s=0.1,
                                 archive_login_per_address=0) as client:
        started = time.monotonic()
        answers = await asyncio.gather(*(_guess(client, f"name-{i}") for i in range(12)))
        codes = [r.status_code for r in answers]
        assert slow.most <= 2, slow.most
        busy = [r for r in answers if r.status_code == 503]
        assert busy and all(r.json()["error"] == "login_busy" and r.headers["Retry-After"] for r in busy)
        assert codes.count(401) == slow.calls
        assert time.monotonic() - started < 10

