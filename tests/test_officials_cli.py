"""`antibully officials add`: an account that can log in, a password never echoed, bad input refused."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from antibully.cli import main
from services.archive import repository
from services.archive.accounts import Issued, LoginPolicy, login, official_from_token
from shared.config import get_settings
from shared.contracts.base import utcnow
from shared.db import create_pool

POLICY = LoginPolicy(timedelta(minutes=15), 5, timedelta(minutes=15))


@pytest.fixture
def cli_env(database: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database)
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


def _run(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["officials", "add", *argv, "--password-stdin"])


async def test_an_added_official_logs_in(cli_env: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = await _in_thread(_run, ["zhang.school", "--role", "school", "--jurisdiction", "lechang",
                                   "--school", "demo-school", "--name", "张校长"], "a long school password\n",
                            monkeypatch)
    assert code == 0 and "a long school password" not in capsys.readouterr().out
    pool = await create_pool(cli_env, repository.SCHEMA, max_size=1)
    try:
        issued = await login(pool, "zhang.school", "a long school password", POLICY, utcnow())
        assert isinstance(issued, Issued)
        assert (issued.official.role, issued.official.school_id) == ("school", "demo-school")
        assert issued.official.title == "head"  # a school account is its head unless --title says otherwise
        stored = await pool.fetchval("SELECT password_hash FROM officials WHERE account_id = 'zhang.school'")
        assert stored.startswith("$argon2id$") and "a long school password" not in stored
        assert not isinstance(await login(pool, "zhang.school", "wrong password!", POLICY, utcnow()), Issued)

        # the head leaves: disabled, the open token ends now and the password no longer logs in
        assert await _in_thread(main, ["officials", "disable", "zhang.school"]) == 0
        assert await official_from_token(pool, issued.token, utcnow(), POLICY.token_ttl) is None
        assert not isinstance(await login(pool, "zhang.school", "a long school password", POLICY, utcnow()), Issued)
        assert await _in_thread(main, ["officials", "disable", "zhang.school"]) == 1  # nothing left to disable
    finally:
        await pool.close()


@pytest.mark.parametrize("argv", [
    ["x", "--role", "school", "--jurisdiction", "lechang", "--name", "无学校"],  # a school account needs --school
    ["x", "--role", "bureau", "--jurisdiction", "lechang", "--school", "s", "--name", "局"],  # others name none
    ["x", "--role", "bureau", "--jurisdiction", "lechang", "--title", "head", "--name", "局"],  # nor a title
])
async def test_inconsistent_accounts_are_refused(cli_env: str, monkeypatch: pytest.MonkeyPatch,
                                                 argv: list[str]) -> None:
    assert await _in_thread(_run, argv, "a long enough password\n", monkeypatch) == 2


async def test_a_short_password_is_refused(cli_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["y", "--role", "police", "--jurisdiction", "lechang", "--name", "警务联络员"]
    assert await _in_thread(_run, argv, "short\n", monkeypatch) == 2


async def _in_thread(fn: Callable[..., int], *args: object) -> int:
    """main() runs its own event loop (asyncio.run), so it cannot run on the test's."""
    return await asyncio.to_thread(fn, *args)
