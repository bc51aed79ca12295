"""Who may file which campaign record for which school (services/archive/campaign_filing.py, pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.archive.campaign_files import campaign_of, load_campaigns
from services.archive.campaign_filing import filing_school, record_event, started_event
from shared.config import Settings
from shared.contracts.campaign import RecordFacts, RecordKind, campaign_case_id
from shared.directory import load_directory
from shared.errors import ApiError
from shared.identity import Official, OfficialRole, StaffTitle

pytestmark = pytest.mark.pure

DIRECTORY = load_directory(Settings().directory_file)
HEAD = Official(account_id="head", display_name="校长", role=OfficialRole.school, jurisdiction="lechang",
                school_id="demo-school", title=StaffTitle.head)
BUREAU = Official(account_id="duty", display_name="值班", role=OfficialRole.bureau, jurisdiction="lechang")
ELSEWHERE = BUREAU.model_copy(update={"jurisdiction": "shaoguan"})


def status(call: object) -> int:
    assert callable(call)
    with pytest.raises(ApiError) as err:
        call()
    return err.value.status


def test_a_school_files_its_own_records_and_the_bureau_screens_its_schools() -> None:
    assert filing_school(DIRECTORY, HEAD, RecordKind.student_screening, None) == "demo-school"
    assert filing_school(DIRECTORY, HEAD, RecordKind.summary, "demo-school") == "demo-school"
    assert filing_school(DIRECTORY, BUREAU, RecordKind.school_screening, "demo-school") == "demo-school"
    assert status(lambda: filing_school(DIRECTORY, HEAD, RecordKind.school_screening, None)) == 403
    assert status(lambda: filing_school(DIRECTORY, BUREAU, RecordKind.training, "demo-school")) == 403
    assert status(lambda: filing_school(DIRECTORY, HEAD, RecordKind.training, "other-school")) == 404
    assert status(lambda: filing_school(DIRECTORY, BUREAU, RecordKind.school_screening, None)) == 404
    assert status(lambda: filing_school(DIRECTORY, BUREAU, RecordKind.school_screening, "nope")) == 404
    assert status(lambda: filing_school(DIRECTORY, ELSEWHERE, RecordKind.school_screening, "demo-school")) == 404


def test_a_record_is_an_event_of_the_schools_campaign_case() -> None:
    campaign = campaign_of(load_campaigns(Settings().campaigns_dir), "2027-zhuanxiang")
    record_id = uuid.uuid4()
    now = datetime(2027, 3, 1, tzinfo=UTC)
    event = record_event(campaign, "p1", "demo-school", RecordKind.student_screening, HEAD,
                         RecordFacts(students_screened=10, nothing_found=True), {"note": "无"}, record_id, now)
    assert event.case_id == campaign_case_id("2027-zhuanxiang", "demo-school")
    assert (event.filed_by, event.record_id, event.schema_version) == ("head", record_id, 2)
    assert status(lambda: record_event(campaign, "p9", "demo-school", RecordKind.summary, HEAD, RecordFacts(),
                                       {}, record_id, now)) == 404
    assert status(lambda: campaign_of({}, "2027-zhuanxiang")) == 404


def test_a_started_campaign_carries_its_plan_and_the_jurisdictions_schools() -> None:
    campaign = campaign_of(load_campaigns(Settings().campaigns_dir), "2027-zhuanxiang")
    event = started_event(campaign, DIRECTORY, "lechang", "duty", datetime(2027, 1, 5, tzinfo=UTC))
    assert "demo-school" in event.school_ids and event.campaign() == campaign
    assert event.event_id == started_event(campaign, DIRECTORY, "lechang", "other", datetime.now(UTC)).event_id
    assert started_event(campaign, DIRECTORY, "shaoguan", "duty", datetime.now(UTC)).school_ids == []
