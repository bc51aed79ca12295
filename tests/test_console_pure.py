"""The console's session cookie, CSRF tokens and login throttle, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.console.labels import local_time, zh
from services.console.security import Csrf
from services.console.session import MAX_PURPOSES, Session, SessionCodec, idle
from services.console.throttle import Throttle
from shared.crypto import new_key_b64

pytestmark = pytest.mark.pure
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def session(**changes: object) -> Session:
    fields: dict[str, object] = {"token": "abt_secret-token", "account_id": "bureau-wang", "name": "王",
                                 "role": "bureau", "jurisdiction": "lechang", "school_id": None, "title": None,
                                 "last_seen": NOW.timestamp()}
    return Session(**(fields | changes))  # type: ignore[arg-type]


def test_a_session_cookie_is_sealed_and_tamper_evident() -> None:
    codec = SessionCodec(new_key_b64())
    cookie = codec.encode(session())
    assert "abt_" not in cookie and "bureau" not in cookie
    assert codec.decode(cookie) == session()
    flipped = cookie[:10] + ("A" if cookie[10] != "A" else "B") + cookie[11:]
    assert codec.decode(flipped) is None
    assert SessionCodec(new_key_b64()).decode(cookie) is None  # another key: another deployment
    assert codec.decode("") is None and codec.decode("not a cookie") is None


def test_a_session_ends_after_the_idle_time() -> None:
    s = session()
    assert not idle(s, NOW + timedelta(minutes=14, seconds=59), 15 * 60)
    assert idle(s, NOW + timedelta(minutes=15, seconds=1), 15 * 60)


def test_only_the_latest_purposes_are_kept() -> None:
    s = session()
    for n in range(MAX_PURPOSES + 3):
        s.remember_purpose(f"case-{n}", f"purpose {n}")
    assert len(s.purposes) == MAX_PURPOSES
    assert "case-0" not in s.purposes and s.purposes[f"case-{MAX_PURPOSES + 2}"] == f"purpose {MAX_PURPOSES + 2}"
    s.remember_purpose("case-3", "again")  # stating it again makes it the newest
    assert list(s.purposes)[-1] == "case-3"


def test_a_csrf_token_belongs_to_its_secret_and_key() -> None:
    csrf = Csrf(b"k" * 32)
    secret = csrf.new_secret()
    assert csrf.valid(secret, csrf.token(secret))
    assert not csrf.valid(secret, csrf.token(csrf.new_secret()))
    assert not csrf.valid(secret, Csrf(b"x" * 32).token(secret))
    assert not csrf.valid(None, csrf.token(secret)) and not csrf.valid(secret, None)


def test_the_login_throttle_counts_per_address_within_its_window() -> None:
    throttle = Throttle(limit=3, window_s=60)
    assert [throttle.acquire("10.0.0.1", now=t) for t in (0, 1, 2)] == [None, None, None]
    assert throttle.acquire("10.0.0.1", now=3) == pytest.approx(57)
    assert throttle.acquire("10.0.0.2", now=3) is None
    assert throttle.acquire("10.0.0.1", now=60.5) is None  # the first attempt left the window


def test_codes_are_shown_in_chinese_and_times_in_beijing() -> None:
    assert zh("severe", "level") == "严重" and zh("unknown-code", "level") == "unknown-code" and zh(None, "kind") == "—"
    assert local_time("2026-11-30T08:00:00+00:00") == "2026-11-30 16:00"


def test_a_login_returns_only_to_a_page_of_the_console_by_path() -> None:
    from services.console.pages.auth import safe_next

    case = "/cases/5c5916e3-5cbe-504a-bcde-37da0515c981"
    assert safe_next(case) == case and safe_next("/school/help/HE8N428Y8MM") == "/school/help/HE8N428Y8MM"
    for bad in ("//evil.example/cases", "https://evil.example/", "/cases?name=李小明", "/logout", "/cases/../x",
                None, "/cases/" + "a" * 300, "/help/case"):
        assert safe_next(bad) == "", bad


async def test_a_staff_assertion_is_asked_once_per_two_minutes_and_renewed_when_refused() -> None:
    import httpx

    from services.console.backend import Backend

    asked: list[str] = []
    refuse_next = [False]

    def archive(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        until = datetime.now(UTC) + timedelta(seconds=120)
        return httpx.Response(200, json={"assertion": f"abi_{len(asked)}", "expires_at": until.isoformat()})

    def intake(request: httpx.Request) -> httpx.Response:
        if refuse_next[0]:
            refuse_next[0] = False
            return httpx.Response(401, json={})
        return httpx.Response(200, json={"by": request.headers["Authorization"]})

    backend = Backend("http://archive", "http://intake")
    backend.archive_http = httpx.AsyncClient(base_url="http://archive", transport=httpx.MockTransport(archive))
    backend.intake_http = httpx.AsyncClient(base_url="http://intake", transport=httpx.MockTransport(intake))
    s = session(role="school", school_id="demo-school", title="head")
    first = await backend.intake_as(s, "GET", "/v1/duties")
    second = await backend.intake_as(s, "GET", "/v1/help-requests")
    assert asked == ["/v1/auth/assertion"] and first.body == second.body == {"by": "Bearer abi_1"}
    refuse_next[0] = True  # e.g. intake's key rotated: a new assertion, once
    third = await backend.intake_as(s, "GET", "/v1/duties")
    assert len(asked) == 2 and third.body == {"by": "Bearer abi_2"}
    await backend.close()


def test_a_whole_jurisdiction_duty_reads_as_the_jurisdiction_not_its_id() -> None:
    """A campaign's once-per-campaign duty has school_id `jurisdiction:<j>`; the pages name the jurisdiction."""
    from services.console.schools import school_name
    from shared.config import ROOT

    directory = ROOT / "deploy" / "directory.toml"
    assert school_name(directory, "jurisdiction:lechang") == "乐昌市（全辖区）"
    assert school_name(directory, "jurisdiction:renhua") == "renhua（全辖区）"
    assert school_name(directory, "demo-school") == "乐昌市示范中学"
    assert school_name(directory, "no-such-school") == "no-such-school"


def test_the_stylesheet_closes_every_block() -> None:
    """A merge once dropped the `}` closing a phone-only @media block: every later rule applied on phones only."""
    from shared.config import ROOT

    depth = 0
    for n, line in enumerate((ROOT / "services" / "console" / "static" / "console.css").read_text("utf-8")
                             .splitlines(), 1):
        if line.startswith(("@media", "/*")) or not line.startswith(" "):
            assert depth == (1 if line.startswith(" ") else 0) or line.strip() in ("}", ""), (n, line)
        depth += line.count("{") - line.count("}")
        assert depth >= 0, (n, line)
    assert depth == 0
