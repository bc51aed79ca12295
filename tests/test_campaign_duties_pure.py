"""A campaign's duties as obligations (services/escalation/campaign_duties.py) and their notices in Chinese
(services/notify/campaign_text.py), pure: deadlines, who owes what where, chains, what a record settles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.escalation.campaign_duties import (
    CAMPAIGN_STARTED,
    chain,
    deadline,
    duration,
    for_campaign,
    settled_by,
    start,
)
from services.escalation.campaign_files import check_campaign_files
from services.notify.templates import render, render_short
from shared.campaign_files import unknown_names
from shared.campaign_plan import parse_campaign
from shared.config import ROOT, Settings
from shared.contracts import NotificationRequested, Recipient, RecipientRole
from shared.contracts.campaign import CampaignStarted, campaign_case_id, campaign_level_case_id, campaign_started_id
from shared.contracts.notification import NoticeTask
from shared.directory import DirectoryError, load_directory

pytestmark = pytest.mark.pure

DIRECTORY = load_directory(Settings().directory_file)
SHIPPED = ROOT / "deploy" / "campaigns" / "2027-zhuanxiang.toml"
CAMPAIGN = parse_campaign(SHIPPED.read_text(encoding="utf-8"))
STARTED_AT = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
DRILL = """
id = "drill"
version = "1"
title_zh = "演练"
[[phases]]
id = "p1"
zh = "排查"
due_after_start = "10m"
[[phases]]
id = "p2"
zh = "总结"
due = 2027-01-31
[[duties]]
id = "screen"
phase = "p1"
zh = "排查"
owner = "school"
fulfilled_by = "student_screening"
escalate_to = ["bureau", "nobody_we_know"]
[[duties]]
id = "screen_fast"
phase = "p1"
zh = "快速排查"
owner = "school"
due_after_start = "2h"
[[duties]]
id = "sum"
phase = "p2"
zh = "总结"
owner = "bureau"
per = "campaign"
"""


def started(campaign_text: str = "", schools: tuple[str, ...] = ("demo-school", "second-school"),
            at: datetime = STARTED_AT) -> CampaignStarted:
    campaign = parse_campaign(campaign_text) if campaign_text else CAMPAIGN
    return CampaignStarted(event_id=campaign_started_id(campaign.id, "lechang"), occurred_at=at,
                           campaign_id=campaign.id, version=campaign.version, jurisdiction="lechang",
                           school_ids=list(schools), started_by="bureau-li", plan=campaign.model_dump(mode="json"))


def test_durations() -> None:
    assert duration("10m") == timedelta(minutes=10)
    assert duration("2 h") == timedelta(hours=2)
    assert duration("30d") == timedelta(days=30)
    assert duration("45s") == timedelta(seconds=45)


def test_a_date_is_the_end_of_that_day_in_shanghai_and_a_duration_counts_from_the_start() -> None:
    drill = parse_campaign(DRILL)
    screen, fast, total = drill.duties
    assert deadline(CAMPAIGN, CAMPAIGN.duties[0], STARTED_AT) == (
        datetime(2027, 3, 31, 16, 0, tzinfo=UTC), timedelta(days=7))  # 2027-04-01 00:00 +08:00
    assert deadline(drill, screen, STARTED_AT) == (STARTED_AT + timedelta(minutes=10), timedelta(minutes=10))
    assert deadline(drill, fast, STARTED_AT) == (STARTED_AT + timedelta(hours=2), timedelta(hours=2))  # its own
    assert deadline(drill, total, STARTED_AT)[0] == datetime(2027, 1, 31, 16, 0, tzinfo=UTC)
    assert deadline(drill, total, STARTED_AT)[0] < STARTED_AT  # started late: born overdue


def test_every_duty_for_every_school_and_the_bureau_once() -> None:
    plan = start(started(), DIRECTORY)
    by = {(o.school_id, o.action_id): o for o in plan.obligations}
    assert len(plan.obligations) == len(by) == 2 * 4 + 1
    demo = campaign_case_id(CAMPAIGN.id, "demo-school")
    level = campaign_level_case_id(CAMPAIGN.id, "lechang")
    screening = by[("demo-school", "student_screening")]
    assert (screening.incident_id, screening.role, screening.kind, screening.escalate_to) == (
        demo, "school", "task", ["bureau"])
    assert screening.label_zh == "专项整治（动员部署和排查）：全面排查本校学生并报送排查报告"
    assert screening.due_at == datetime(2027, 3, 31, 16, 0, tzinfo=UTC)
    bureau = by[("demo-school", "school_screening")]  # the bureau owes it about the school, on the school's case
    assert (bureau.incident_id, bureau.role, bureau.escalate_to) == (demo, "bureau", ["bureau_leader"])
    city = by[("jurisdiction:lechang", "city_summary")]
    assert (city.incident_id, city.role, city.due_at) == (level, "bureau", datetime(2027, 7, 31, 16, tzinfo=UTC))
    assert DIRECTORY.jurisdiction_of(city.school_id) == "lechang"
    assert DIRECTORY.jurisdiction_of("jurisdiction:renhua") == "renhua"  # not the directory's default
    assert {c.facts.case_ref for c in plan.cases} == {"ZX-" + c.case_id.hex[:8].upper() for c in plan.cases}
    assert len({o.obligation_id for o in start(started(), DIRECTORY).obligations} | set(by[k].obligation_id
                                                                                      for k in by)) == 9  # stable


def test_each_school_is_told_its_own_duties_only() -> None:
    plan = start(started(), DIRECTORY)
    assert len(plan.notices) == 1  # second-school is not in the shipped directory: nobody to tell
    [notice] = plan.notices
    assert notice.purpose == CAMPAIGN_STARTED and notice.recipient.entry == "school:demo-school"
    assert [t.zh.split("：")[1] for t in notice.facts.tasks] == [
        "全面排查本校学生并报送排查报告", "开展校长、教师防欺凌专题培训",
        "报送专项整治工作总结（成效、问题、原因、下一步）"]
    text = render(notice)
    assert render_short(notice, None).text == ("【专项整治启动】乐昌市示范中学，2027年防治中小学生欺凌专项整治。"
                                               f"须完成3项事项，请按期完成。编号{notice.facts.case_ref}。")
    assert "教育局已启动“2027年防治中小学生欺凌专项整治”" in text.body
    assert "全面排查本校学生并报送排查报告（2027年03月31日24时前）" in text.body
    assert "七个方面" not in text.body  # the bureau's duty about the school is not the school's


def test_unknown_escalation_names_become_the_duty_room() -> None:
    assert chain(["bureau", "nobody_we_know", "bureau_leader"], DIRECTORY) == (
        ["bureau", "bureau_leader"], {"nobody_we_know"})
    plan = start(started(DRILL), DIRECTORY)
    assert plan.unknown == {"nobody_we_know"}
    assert {o.action_id: o.escalate_to for o in plan.obligations if o.school_id == "demo-school"} == {
        "screen": ["bureau"], "screen_fast": []}


def test_an_office_is_an_officials_role_or_the_bureau_owes_it() -> None:
    police = DRILL.replace('per = "campaign"', 'per = "campaign"\noffice = "police"')
    leader = DRILL.replace('per = "campaign"', 'per = "campaign"\noffice = "bureau_leader"')  # a contact, no role
    assert [o.role for o in start(started(police), DIRECTORY).obligations if o.action_id == "sum"] == ["police"]
    assert [o.role for o in start(started(leader), DIRECTORY).obligations if o.action_id == "sum"] == ["bureau"]
    assert unknown_names(parse_campaign(leader), DIRECTORY) == {"nobody_we_know", "bureau_leader"}
    assert unknown_names(parse_campaign(police), DIRECTORY) == {"nobody_we_know"}


def test_every_shipped_campaign_escalates_only_to_names_the_directory_lists(tmp_path: Path) -> None:
    shipped = sorted((ROOT / "deploy" / "campaigns").glob("*.toml"))
    assert shipped
    for path in shipped:
        campaign = parse_campaign(path.read_text(encoding="utf-8"), str(path))
        assert unknown_names(campaign, DIRECTORY) == set(), path
    check_campaign_files(ROOT / "deploy" / "campaigns", DIRECTORY)
    (tmp_path / "drill.toml").write_text(DRILL, encoding="utf-8")
    with pytest.raises(DirectoryError, match="nobody_we_know"):
        check_campaign_files(tmp_path, DIRECTORY)


def test_a_record_settles_its_phase_and_kind_on_its_schools_case_only() -> None:
    demo = campaign_case_id(CAMPAIGN.id, "demo-school")
    plan = {(o.incident_id, o.action_id): o.obligation_id for o in start(started(), DIRECTORY).obligations}
    assert settled_by(CAMPAIGN, demo, "student_screening", "p1") == [plan[(demo, "student_screening")]]
    assert settled_by(CAMPAIGN, demo, "school_screening", "p1") == [plan[(demo, "school_screening")]]
    assert settled_by(CAMPAIGN, demo, "student_screening", "p2") == []  # another phase
    assert settled_by(CAMPAIGN, demo, "summary", "p3") == [plan[(demo, "phase_summary")]]
    assert settled_by(CAMPAIGN, demo, "training", "p1") == []


def test_a_missed_campaign_duty_reads_in_chinese() -> None:
    plan = start(started(), DIRECTORY)
    case = next(c for c in plan.cases if c.school_id == "demo-school")
    purpose, facts = for_campaign("deadline_missed", case.facts, "school")
    assert purpose == "campaign_deadline_missed" and facts.update_zh == "学校"
    missed = NotificationRequested(
        event_id=uuid.uuid4(), incident_id=case.case_id, notification_id=uuid.uuid4(), purpose=purpose,
        recipient=Recipient(role=RecipientRole.bureau, display_name="乐昌市教育局值班室", entry="bureau"),
        facts=facts.model_copy(update={
            "missed": NoticeTask(zh="专项整治（动员部署和排查）：全面排查本校学生并报送排查报告",
                                 due_at=datetime(2027, 3, 31, 16, tzinfo=UTC)),
            "due_at": datetime(2027, 4, 8, 1, 30, tzinfo=UTC)}))
    text = render(missed)
    assert text.subject == "【专项整治·逾期未办】乐昌市示范中学（动员部署和排查）：全面排查本校学生并报送排查报告"
    assert ("“2027年防治中小学生欺凌专项整治”中，乐昌市示范中学的“专项整治（动员部署和排查）：全面排查本校学生并报送"
            "排查报告”（应办单位：学校）应于2027年03月31日24时前完成，至今未完成。") in text.body
    assert "请于2027年04月08日 09:30前督促办理" in text.body and "认定依据" not in text.body
    assert render_short(missed, None).text == (
        "【专项整治逾期未办】乐昌市示范中学，动员部署和排查阶段“全面排查本校学生并报送排查报告”逾期未完成。"
        f"请督办（04月08日 09:30前）。编号{case.facts.case_ref}。")
    level = next(c for c in plan.cases if c.school_id.startswith("jurisdiction:"))
    purpose, facts = for_campaign("deadline_reminder", level.facts, "bureau")
    reminder = missed.model_copy(update={"purpose": purpose, "facts": facts.model_copy(update={
        "missed": NoticeTask(zh="专项整治（督导检查）：汇总全市学校总结并上报", due_at=date_end(2027, 7, 31)),
        "due_at": None})})
    body = render(reminder).body
    assert "本辖区应于2027年07月31日24时前完成的“专项整治（督导检查）：汇总全市学校总结并上报”尚未完成" in body
    assert for_campaign("deadline_missed", facts.model_copy(update={"case_kind_zh": "隐患整改"}), "school")[0] == (
        "deadline_missed")


def date_end(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 16, tzinfo=UTC)
