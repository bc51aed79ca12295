"""The whole system with its console, and a real Chromium driving it (Playwright), for the page tests.

Chromium comes from the OS packages (`apt-get install chromium fonts-noto-cjk`, which `make test`
does when missing); Playwright's own browser download is not used. CHROMIUM=/path overrides.
Screenshots go to the test's tmp dir, and also to $SCREENSHOT_DIR when set (docs/screenshots).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from antibully.infra import free_port
from shared.config import Settings
from shared.crypto import new_key_b64

PASSWORD = "correct horse battery staple"
SCHOOL = "demo-school"
# account → (role, school, title)
ACCOUNTS: dict[str, tuple[str, str | None, str | None]] = {
    "bureau-wang": ("bureau", None, None),
    "police-zhao": ("police", None, None),
    "head-li": ("school", SCHOOL, "head"),
    "teacher-chen": ("school", SCHOOL, "head_teacher"),
    "other-head": ("school", "other-school", "head"),
}


@dataclass
class ConsoleSystem:
    settings: Settings
    url: str
    school_key: str
    access_code: str
    console: Any = None  # the console's ConsoleDeps: a test may move its clock

    def at(self, path: str) -> str:
        return self.url + path


def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.fail("Chromium is not installed. `make test` installs it (apt-get install chromium fonts-noto-cjk); "
                    "where it can't, install Chromium from your OS packages and set CHROMIUM=/path/to/chromium.")
    return path


async def _add_accounts(database_url: str) -> None:
    import inspect

    from antibully.officials import add_official

    takes_title = "title" in inspect.signature(add_official).parameters
    for account, (role, school, title) in ACCOUNTS.items():
        extra: dict[str, Any] = {"title": title} if takes_title and title else {}
        await add_official(database_url, account, role=role, jurisdiction="lechang", name=account,
                           password=PASSWORD, school_id=school, **extra)


@pytest.fixture
async def console_system(settings: Settings, tmp_path: Path) -> AsyncIterator[ConsoleSystem]:
    from antibully.cli import add_access_code, add_school
    from services.archive.app import running as archive
    from services.console.app import running as console
    from services.escalation.app import running as escalation
    from services.intake.app import running as intake
    from services.notify.app import running as notify

    port = free_port()
    settings = settings.model_copy(update={
        "console_port": port, "console_dev_mode": True, "console_session_key": new_key_b64(),
        "console_public_url": f"http://127.0.0.1:{port}",
        "escalation_data_key": new_key_b64()})
    async with AsyncExitStack() as stack:
        for running in (intake, escalation, notify, archive):
            await stack.enter_async_context(running(settings))  # type: ignore[operator]
        deps = await stack.enter_async_context(console(settings))
        key = await add_school(settings.database_url, SCHOOL, "乐昌市示范中学")
        await add_school(settings.database_url, "other-school", "乐昌市第二中学")
        code = await add_access_code(settings.database_url, SCHOOL)
        await _add_accounts(settings.database_url)
        system = ConsoleSystem(settings, f"http://127.0.0.1:{port}", key, code, deps)
        yield system


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        # --lang and LANGUAGE with Debian's chromium-l10n: date pickers in Chinese, as on a user's PC; LANG a
        # UTF-8 locale every system has (an uninstalled zh_CN.UTF-8 breaks the downloads' Chinese file names)
        chromium = await p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox", "--lang=zh-CN"],
                                           env={**os.environ, "LANG": "C.UTF-8", "LANGUAGE": "zh_CN:zh"})
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai",
                                        viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    pg = await context.new_page()
    try:
        yield pg
    finally:
        await context.close()


async def shoot(page: Any, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot in the test's tmp dir and, with SCREENSHOT_DIR set, in the docs."""
    path = tmp_path / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if target := os.environ.get("SCREENSHOT_DIR"):
        os.makedirs(target, exist_ok=True)
        shutil.copy(path, os.path.join(target, f"{name}.png"))
    return path


async def login(page: Any, system: ConsoleSystem, account: str) -> None:
    await page.goto(system.at("/login"))
    await page.fill("#f-username", account)
    await page.fill("#f-password", PASSWORD)
    await page.click("button:has-text('登录')")
    await page.wait_for_selector("text=退出")
