"""The console's login, logout, headers and CSRF, in a real Chromium."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.console_rig import ConsoleSystem, login, shoot


async def test_login_logout_and_page_headers(console_system: ConsoleSystem, page: Any, tmp_path: Path) -> None:
    response = await page.goto(console_system.at("/"))
    headers = response.headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    await shoot(page, tmp_path, "login")
    assert await page.locator("footer").inner_text() != ""
    assert "110" in await page.locator("footer").inner_text()

    await page.fill("#f-username", "bureau-wang")
    await page.fill("#f-password", "wrong password, surely")
    await page.click("button:has-text('登录')")
    assert "账号或密码错误" in await page.locator(".notice").inner_text()

    await login(page, console_system, "bureau-wang")
    cookies = {c["name"]: c for c in await page.context.cookies()}
    session = cookies["ab_session"]
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    assert "correct" not in session["value"] and "abt_" not in session["value"]  # sealed
    await shoot(page, tmp_path, "home-bureau")

    await page.click("button:has-text('退出')")
    assert "您已安全退出" in await page.locator(".notice").inner_text()
    await page.goto(console_system.at("/"))
    assert await page.locator("#f-password").count() == 1  # the login form again


async def test_a_form_from_elsewhere_is_refused(console_system: ConsoleSystem, page: Any) -> None:
    await login(page, console_system, "bureau-wang")
    # the same browser, its cookies, but a form without the page's token (as another site would post it)
    refused = await page.request.post(console_system.at("/logout"), form={"csrf": "forged"})
    assert refused.status == 403
    assert "表单已失效" in await refused.text()
    await page.goto(console_system.at("/"))
    assert await page.locator("text=退出").count() == 1  # still signed in: the forged logout did nothing


async def test_login_is_throttled_per_address(console_system: ConsoleSystem) -> None:
    async with httpx.AsyncClient(base_url=console_system.url) as client:
        first = await client.get("/login")
        token = first.text.split('name="csrf" value="')[1].split('"')[0]
        # a new name each time, so the archive's lock of one name is not what answers
        codes = [(await client.post("/login", data={"csrf": token, "username": f"nobody-{i}", "password": "x" * 12})
                  ).status_code for i in range(console_system.settings.console_login_per_minute + 1)]
    assert codes[:-1] == [401] * console_system.settings.console_login_per_minute
    assert codes[-1] == 429


async def test_an_idle_session_ends_after_15_minutes(console_system: ConsoleSystem, page: Any) -> None:
    await login(page, console_system, "head-li")
    deps = console_system.console
    later = deps.clock() + timedelta(minutes=14)
    deps.clock = lambda: later
    await page.goto(console_system.at("/"))
    assert await page.locator("text=退出").count() == 1  # 14 minutes idle: still signed in, and the clock restarts
    much_later = later + timedelta(minutes=15, seconds=5)
    deps.clock = lambda: much_later
    await page.goto(console_system.at("/"))
    assert await page.locator("#f-password").count() == 1
    assert "15 分钟未操作" in await page.locator(".notice").inner_text()
    cookies = {c["name"] for c in await page.context.cookies()}
    assert "ab_session" not in cookies
