"""Contacts that work before they are needed: the pure rule, the scheduled check's report to the
admin (once a day per gap, through a real SMTP server) and the CLI."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from antibully.infra import SmtpSink
from services.notify.channels import build_channels, new_http_client
from services.notify.failover import Failover
from services.notify.reachability import ReachabilityCheck, admin_alert, unreachable
from services.notify.repository import SCHEMA
from shared.config import ROOT, Settings
from shared.contracts.notification import ChannelKind
from shared.db import create_pool
from shared.directory import load_directory

GAPPY = """
version = "t"
jurisdiction = "lechang"
[officials.bureau]
name = "值班室"
dingtalk = "robot"
prefer = ["dingtalk"]
[officials.police]
name = "警务联络员"
email = "police@example.cn"
phone = "+8613800000002"
[officials.stability_office]
name = "稳定办"
[officials.admin]
name = "信息化管理员"
email = "admin@example.cn"
[schools.s1]
name = "一中"
email = "s1@example.cn"
"""


@pytest.mark.pure
def test_an_entry_is_reachable_only_through_a_configured_kind(tmp_path: Path) -> None:
    path = tmp_path / "directory.toml"
    path.write_text(GAPPY, encoding="utf-8")
    directory = load_directory(path)
    assert unreachable(directory, {ChannelKind.email}) == ["bureau", "stability_office"]
    assert unreachable(directory, {ChannelKind.email, ChannelKind.dingtalk}) == ["stability_office"]
    assert unreachable(directory, set()) == ["bureau", "police", "school:s1", "stability_office"]


async def test_gaps_go_to_ops_and_once_a_day_to_the_admin(tmp_path: Path, settings: Settings,
                                                          smtp_sink: SmtpSink) -> None:
    path = tmp_path / "directory.toml"
    path.write_text(GAPPY, encoding="utf-8")
    db = settings.service_database("notify")
    pool = await create_pool(db.url, SCHEMA, role=db.role)
    try:
        registry = CollectorRegistry()
        async with new_http_client(settings) as http:
            failover = Failover(build_channels(settings, http))
            check = ReachabilityCheck(path, {ChannelKind.email}, pool, registry, admin_alert(path, failover))
            day = dt.date(2026, 11, 29)
            assert await check.check(day) == ["bureau", "stability_office"]
            assert await check.check(day) == ["bureau", "stability_office"]  # the same gap the same day: no mail
            assert registry.get_sample_value("antibully_contacts_unreachable") == 2
            assert len(smtp_sink.messages) == 1
            mail = smtp_sink.messages[0]
            assert mail["To"] == "admin@example.cn" and "通讯录检查" in str(mail["Subject"])
            assert "stability_office" in mail.get_content() and "bureau" in mail.get_content()
            await check.check(day + dt.timedelta(days=1))
            assert len(smtp_sink.messages) == 2  # again the next day, while it lasts
            path.write_text(GAPPY.replace('name = "稳定办"', 'name = "稳定办"\nemail = "so@example.cn"')
                            .replace('prefer = ["dingtalk"]', 'email = "duty@example.cn"'), encoding="utf-8")
            assert await check.check(day + dt.timedelta(days=1)) == []  # the bureau fixed its file
            assert registry.get_sample_value("antibully_contacts_unreachable") == 0
            path.write_text("version = 1 = 2", encoding="utf-8")
            assert await check.check(day + dt.timedelta(days=1)) == ["directory_invalid"]
    finally:
        await pool.close()


def test_the_cli_names_the_gaps_and_fails(tmp_path: Path) -> None:
    path = tmp_path / "directory.toml"
    path.write_text(GAPPY, encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "WECOM_WEBHOOK_BASE": "", "DINGTALK_WEBHOOK_BASE": ""}
    done = subprocess.run([sys.executable, "-m", "antibully.cli", "directory", "check", "--file", str(path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "UNREACHABLE: bureau, stability_office" in done.stdout
    assert "admin@example.cn" not in done.stdout  # kinds only, never addresses
    ok = subprocess.run([sys.executable, "-m", "antibully.cli", "directory", "check"], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "OK: every entry has a working channel" in ok.stdout
