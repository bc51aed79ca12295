"""What the campaign tests share (issue 16): a directory with three schools of one jurisdiction, a campaign
folder with a drill whose first phase ends seconds after the start, and the disclosure canary's case (a
severe report full of unique canary strings, its follow-up, and closing it by two officials)."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from services.intake.examples import SEVERE_EXAMPLE
from shared.config import ROOT
from shared.contracts.campaign import Aspect
from tests.helpers import eventually

SHANGHAI = ZoneInfo("Asia/Shanghai")

SHIPPED = "2027-zhuanxiang"


def directory_with_three_schools(tmp_path: Path, second: str = "second-school") -> Path:
    """The shipped directory, two more schools of lechang (`second`, third-school) and one of renhua."""
    path = tmp_path / "directory.toml"
    path.write_text((ROOT / "deploy" / "directory.toml").read_text(encoding="utf-8") + f"""
[schools.{second}]
name = "乐昌市第二中学"
email = "principal@{second}.example.cn"

[schools.third-school]
name = "乐昌市第三中学"
email = "principal@third-school.example.cn"

[schools.far-school]
name = "仁化县第一中学"
email = "principal@far-school.example.cn"
jurisdiction = "renhua"
""", encoding="utf-8")
    return path


def campaign_files(tmp_path: Path, drill: str = "t-drill", first_due: str = "3s") -> Path:
    """A campaigns folder: the shipped campaign, and the demo drill (deploy/demo/campaigns) as `drill` with its
    first phase due `first_due` after the start (the later phases minutes after it)."""
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / f"{SHIPPED}.toml").write_text((ROOT / "deploy" / "campaigns" / f"{SHIPPED}.toml").read_text("utf-8"),
                                            encoding="utf-8")
    text = (ROOT / "deploy" / "demo" / "campaigns" / "drill-zhuanxiang.toml").read_text("utf-8")
    text = text.replace('id = "drill-zhuanxiang"', f'id = "{drill}"').replace('due_after_start = "5m"',
                                                                              f'due_after_start = "{first_due}"')
    (folder / f"{drill}.toml").write_text(text, encoding="utf-8")
    return folder


def today() -> date:
    return datetime.now(SHANGHAI).date()


def hazard_body(school: str, observed: str = "楼梯间监控盲区") -> dict[str, Any]:
    """A hazard a school files in intake (`POST /v1/hazards`), found an hour ago, rectified within 20 days."""
    now = datetime.now(SHANGHAI)
    return {"school_id": school, "found_at": (now - timedelta(hours=1)).isoformat(), "kind": "hazard_point",
            "students": [], "observed": observed, "risk_level": "medium", "intervention": "加强巡查",
            "rectification": {"plan": "加装监控", "due_date": (now + timedelta(days=20)).date().isoformat(),
                              "responsible": "后勤处"}}


def screening_body(problem_on: tuple[Aspect, ...] = (Aspect.facilities,)) -> dict[str, Any]:
    """The bureau's screening of a school on the seven aspects; a problem (and a rectification) on `problem_on`."""
    due = (today() + timedelta(days=30)).isoformat()
    aspects = []
    for a in Aspect:
        item: dict[str, Any] = {"aspect": a.value, "finding": f"{a.value} 已查阅制度与台账"}
        if a in problem_on:
            item |= {"problem": "教学楼楼梯间存在监控盲区", "risk_level": "high",
                     "rectification": {"plan": "加装监控并安排课间巡查", "due_date": due, "responsible": "后勤处"}}
        aspects.append(item)
    return {"aspects": aspects, "note": "现场查看"}


# A school's phase summary (成效, 问题, 原因, 下一步).
SUMMARY_TEXT = {"achievements": "完成全体学生排查，召开家长会十二场。\n建立问题台账。",
                "problems": "个别班级欺凌苗头发现不及时。", "causes": "班主任培训不足，巡查存在盲区。",
                "next_steps": "开展全员培训，每月专项排查一次。"}


# The disclosure canary: every string a public notice must never hold.
SETTLED = ("done", "acknowledged", "waived", "not_applicable")
NAMES = ["甄卡纳", "郝金雀", "甄守望", "郝铁栓", "柯哨兵", "蔺鸣鹤", "蔺晨曦", "单于雁回"]
GIVEN = ["卡纳", "金雀", "守望", "铁栓", "哨兵", "鸣鹤", "晨曦", "雁回"]
PHONES = ["13912340071", "13912340072", "13912340073"]
EMAILS = ["canary.zhen@example.cn", "canary.hao@example.cn", "canary.lin@example.cn"]
REFS = ["CANARY-71", "CANARY-72", "CANARY-73"]
CLASS = ["初二(7)班", "初二（7）班", "7班"]
WHEN = ["2026年11月3日", "11月3日", "2026-11-03", "14:30"]
WHERE = ["东区学生宿舍楼302室", "宿舍", "302室", "乐昌市示范中学", "示范中学"]
CANARIES = NAMES + GIVEN + PHONES + EMAILS + REFS + CLASS + WHEN + WHERE
FILLED = "经调查，学校已按规定履行报告和处置职责；对学校分管负责人进行约谈，责令学校作出书面整改报告。"


def canary_report() -> dict[str, Any]:
    """The README's severe example (demo-school) told with canary names, phones, e-mails, class, date, place."""
    body = copy.deepcopy(SEVERE_EXAMPLE)
    body.update(occurred_at="2026-11-03T14:30:00+08:00", discovered_at="2026-11-03T15:00:00+08:00",
                location="东区学生宿舍楼302室", cause="2026年11月3日午休时在宿舍因琐事发生口角。",
                course="甄卡纳在初二(7)班宿舍被郝金雀推搡踢打，14:30值班教师柯哨兵发现后制止。",
                reporter={"name": "柯哨兵", "role": "值班教师"})
    body["students"] = [
        {"ref": "CANARY-71", "role": "victim", "name": "甄卡纳", "grade": "初二(7)班",
         "guardians": [{"name": "甄守望", "relation": "父亲", "phone": PHONES[0], "email": EMAILS[0]}]},
        {"ref": "CANARY-72", "role": "perpetrator", "name": "郝金雀", "grade": "初二(7)班",
         "guardians": [{"name": "郝铁栓", "relation": "父亲", "phone": PHONES[1], "email": EMAILS[1]}]},
    ]
    return body


def follow_up() -> dict[str, Any]:
    """A follow-up adding a canary student, correcting a guardian, a sanction and counselling."""
    return {
        "students_added": [{"ref": "CANARY-73", "role": "perpetrator", "name": "蔺鸣鹤", "grade": "初二(7)班",
                            "guardians": [{"name": "单于雁回", "relation": "母亲", "phone": PHONES[2]}]}],
        "guardians_corrected": [{"student_ref": "CANARY-73", "guardians": [
            {"name": "蔺晨曦", "relation": "母亲", "phone": PHONES[2], "email": EMAILS[2]}]}],
        "sanctions": [{"student_ref": "CANARY-72", "measure": "警告处分", "decided_at": "2026-11-20T10:00:00+08:00"}],
        "counselling": [{"student_ref": "CANARY-71", "given_at": "2026-11-21T10:00:00+08:00", "by": "心理健康教师"}],
    }


def leaked(text: str) -> list[str]:
    return [c for c in CANARIES if c in text]


async def close_by_two(archive: httpx.AsyncClient, case_id: str, officials: list[dict[str, str]]) -> None:
    """Waive whatever is still open (two officials each), then close (two officials), until closed."""
    async def closed() -> bool:
        rec = (await archive.get(f"/v1/cases/{case_id}", headers=officials[0])).json()
        if rec["status"] == "closed":
            return True
        still_open = [d for d in rec["duties"] if d["state"] not in SETTLED]
        for d in still_open:
            for who in officials:
                await archive.post(f"/v1/cases/{case_id}/acts", headers=who, json={
                    "act": "waive_duty", "obligation_id": d["obligation_id"], "reason": "测试：集中免除以便结案"})
        if not still_open and rec["duties"]:
            for who in officials:
                await archive.post(f"/v1/cases/{case_id}/acts", headers=who,
                                   json={"act": "close_case", "reason": "各项处置措施均已落实"})
        return False
    await eventually(closed, timeout_s=150, interval_s=1.0)
