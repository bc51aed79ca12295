"""The bureau duty room's daily digest of overdue duties, in Chinese (pure).

The e-mail lists one line per duty (case reference, school, what is owed, who owes it, its first
deadline, how often it was missed); SMS and chat robots get the count and the link only. The digest
carries no child's or family's name, and renders none.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from shared.contracts import NotificationRequested

OVERDUE_DIGEST = "overdue_digest"
SHANGHAI = ZoneInfo("Asia/Shanghai")
WHO_ZH = {
    "school": "学校",
    "counsellor": "学校心理辅导老师",
    "bureau": "教育局",
    "police": "公安机关",
    "stability_office": "市委教育工委稳定安全办公室",
    "procuratorate": "检察机关",
    "court": "审判机关",
    "legal_vice_principal": "学校法治副校长",
    "safety_officer": "学校安全员",
    "victim_guardian": "学校（告知受害学生家长）",
    "perpetrator_guardian": "学校（告知实施欺凌学生家长）",
}
# where the whole list is (the archive's API and console): the digest shows the oldest only
FULL_LIST_ZH = "专门档案系统的逾期事项清单（GET /v1/duties?overdue=true）"


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")


def _total(req: NotificationRequested) -> int:
    return len(req.facts.digest) + req.facts.digest_more


def digest_mail(req: NotificationRequested) -> tuple[str, str]:
    """(subject, body) of the e-mail."""
    f = req.facts
    total = _total(req)
    lines = "".join(
        f"{n}. {i.case_ref}｜{i.school_name}｜{i.zh}｜责任方：{WHO_ZH.get(i.role, i.role)}｜"
        f"原定时限：{_local(i.first_due_at)}｜已逾期 {i.missed} 次\n" for n, i in enumerate(f.digest, start=1))
    more = (f"以上为最早的 {len(f.digest)} 项，另有 {f.digest_more} 项未列出，请在{FULL_LIST_ZH}中查看。\n"
            if f.digest_more else "")
    body = (
        f"{req.recipient.display_name}：\n\n截至{_local(f.occurred_at)}，本辖区共有 {total} 项处置职责"
        "经逐级报告和提醒后仍逾期未办。为免重复打扰，这些事项不再逐项发送提醒，改为每日汇总如下，"
        f"请督促责任方尽快办理：\n\n{lines}{more}\n"
        "事项办结后将自动移出本汇总。详情请凭案件编号在专门档案系统中查阅。\n\n"
        f"汇总编号：{f.case_ref}\n"
    )
    subject = f"【逾期未办汇总】{f.occurred_at.astimezone(SHANGHAI):%Y年%m月%d日} 共 {total} 项"
    return subject, body


def digest_short(req: NotificationRequested, link: str | None) -> tuple[dict[str, str], str]:
    """(SMS template parameters, robot text): the count and the link, nothing else. The parameters fit
    the general "notice" SMS template, so no other template needs registering with the provider."""
    total = _total(req)
    params = {"school": "本辖区", "kind": "逾期未办汇总", "level": f"共{total}项职责逾期未办", "ask": "请督办",
              "ref": req.facts.case_ref, "link": link or ""}
    text = (f"【逾期未办汇总】本辖区共{total}项职责逾期未办，请督办。编号{req.facts.case_ref}"
            + (f"，清单：{link}" if link else "，清单请在专门档案系统中查看。"))
    return params, text
