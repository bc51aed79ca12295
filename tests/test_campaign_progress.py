"""A campaign's progress from its plan and the duties escalation published (pure): deadlines, overdue by the
plan before any duty is published, the newest state once it is, and the CSV and sheet rows."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.archive.campaign_exports import progress_rows, sheet_rows
from services.archive.campaign_files import load_campaigns, unknown_targets
from services.archive.campaign_progress import deadline, duration, duty_deadline, progress
from shared.campaign_plan import Campaign
from shared.config import Settings
from shared.contracts.campaign import campaign_case_id
from shared.directory import load_directory

pytestmark = pytest.mark.pure

ROOT = Path(__file__).resolve().parents[1]
DIRECTORY = load_directory(Settings().directory_file)
SHIPPED = load_campaigns(ROOT / "deploy" / "campaigns")["2027-zhuanxiang"]
DRILL = load_campaigns(ROOT / "deploy" / "demo" / "campaigns")["drill-zhuanxiang"]
START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _started(campaign: Campaign, schools: list[str]) -> dict[str, Any]:
    return {"campaign_id": campaign.id, "jurisdiction": "lechang", "version": "v",
            "plan": campaign.model_dump(mode="json"), "school_ids": schools, "started_at": START,
            "started_by": "duty"}


def test_deadlines_are_the_end_of_the_day_in_shanghai_or_after_the_start() -> None:
    assert deadline(SHIPPED.phases[0], None) == datetime(2027, 3, 31, 16, 0, tzinfo=UTC)
    assert deadline(DRILL.phases[0], None) is None  # relative, not started
    assert deadline(DRILL.phases[0], START) == START + timedelta(minutes=5)
    assert duration("2h") == timedelta(hours=2) and duration("30d") == timedelta(days=30)
    city = next(d for d in DRILL.duties if d.id == "city_summary")
    assert duty_deadline(DRILL, city, START) == START + timedelta(minutes=15)  # its phase's


def test_a_school_that_did_nothing_is_overdue_by_the_plan_and_a_published_duty_counts() -> None:
    schools = ["demo-school", "quiet-school"]
    done = {"case_id": campaign_case_id(DRILL.id, "demo-school"), "obligation_id": uuid.uuid4(),
            "action_id": "campaign:student_screening", "state": "done", "first_due_at": START + timedelta(minutes=5),
            "settled_at": START + timedelta(minutes=1)}
    found = progress(_started(DRILL, schools), DIRECTORY, schools, True, [done], START + timedelta(minutes=6))
    rows = {s.school_id: s for s in found.schools}
    assert (rows["demo-school"].phases[0].done, rows["demo-school"].phases[0].overdue) == (1, 1)
    assert (rows["quiet-school"].phases[0].done, rows["quiet-school"].phases[0].overdue) == (0, 2)
    assert rows["quiet-school"].school_name is None and rows["demo-school"].school_name == "乐昌市示范中学"
    assert [d.duty_id for d in found.campaign_duties] == ["city_summary"] and not found.campaign_duties[0].overdue
    early = progress(_started(DRILL, schools), DIRECTORY, schools, False, [], START + timedelta(minutes=4))
    assert early.schools[1].overdue == 0 and early.campaign_duties == [] and early.campaign_case_id is None

    csv_rows = progress_rows(found)
    assert len(csv_rows) == 2 * 4 + 1 and csv_rows[-1][0] == "全部"
    assert ["demo-school", "乐昌市示范中学", "动员部署和排查", "全面排查本校学生并报送排查报告", "已完成",
            "2026-12-01 10:05", "2026-12-01 10:01", "否"] in csv_rows
    assert ["quiet-school", "动员部署和排查", 0, 2, 2] in [[r[1], r[3], r[5], r[6], r[7]] for r in sheet_rows([found])]


def test_escalation_targets_are_checked_against_the_directory() -> None:
    assert unknown_targets({"x": DRILL, "y": SHIPPED}, DIRECTORY) == []
    bad = DRILL.model_copy(update={"duties": [DRILL.duties[0].model_copy(update={"escalate_to": ["mayor"]})]})
    assert unknown_targets({"x": bad}, DIRECTORY) == ['drill-zhuanxiang duty "student_screening": mayor']
