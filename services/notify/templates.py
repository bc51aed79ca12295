"""Message texts in Simplified Chinese, per recipient role (pure).

Guardians read about their own child only; the school and officials read no child's
name at all: they look the case up by its reference in the special archive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.notify.campaign_text import PURPOSES as CAMPAIGN_PURPOSES
from services.notify.campaign_text import SHORT_KIND as CAMPAIGN_SHORT_KIND
from services.notify.campaign_text import render_campaign, short_parts
from services.notify.digest_text import OVERDUE_DIGEST, digest_mail, digest_short
from shared.contracts import Level, NotificationRequested, RecipientRole
from shared.words import CATEGORY_ZH

SHANGHAI = ZoneInfo("Asia/Shanghai")

LEVEL_ZH = {
    Level.minor: "情节轻微",
    Level.serious: "情节较重",
    Level.severe: "情节严重",
    Level.criminal: "涉嫌违法犯罪",
}
_ASK = {
    RecipientRole.school: "请学校依规通知双方家长、及时调查处置，对受害学生开展心理辅导，并在情况变化时及时续报。",
    RecipientRole.bureau: "按规定须向教育主管部门报告，请及时督促学校处置。",
    RecipientRole.police: "按规定须联系公安机关及时介入，请予以处置。",
    RecipientRole.stability_office: "该事件社会关注度高，按规定报送市委教育工委稳定安全办公室。",
    RecipientRole.counsellor: "请按规定为受害学生安排心理辅导，学生信息请向学校负责人了解。",
    RecipientRole.procuratorate: "请依法处理。涉及未成年人的信息请依法保护。",
    RecipientRole.court: "请依法处理。涉及未成年人的信息请依法保护。",
    RecipientRole.legal_vice_principal: "请作为本校法治副校长参与指导学校依法处置，配合做好法治教育和警示教育；"
                                        "学生信息请向学校负责人了解。",
    RecipientRole.safety_officer: "请落实校园安全防护措施，加强巡查，防止事态扩大；学生信息请向学校负责人了解。",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


@dataclass(frozen=True)
class Short:
    """An SMS or chat message: the minimum, and nobody's name.

    SMS providers in China send only pre-registered templates, so the text is also given as
    the template's parameters (`params`); chat robots get `text`.
    """

    params: dict[str, str]
    text: str


_SHORT_ASK = {
    RecipientRole.victim_guardian: "学校将与您联系，请留意",
    RecipientRole.perpetrator_guardian: "请配合学校做好教育工作",
    RecipientRole.school: "请依规处置并续报",
    RecipientRole.bureau: "请督促学校处置",
    RecipientRole.police: "请及时介入处置",
    RecipientRole.stability_office: "请知悉并跟进",
    RecipientRole.counsellor: "请为受害学生安排心理辅导",
    RecipientRole.official: "请督办",
    RecipientRole.procuratorate: "请依法处理",
    RecipientRole.court: "请依法处理",
    RecipientRole.legal_vice_principal: "请参与指导依法处置",
    RecipientRole.safety_officer: "请落实安全防护措施",
}
_SHORT_KIND = {
    "first_notice": "校园欺凌事件",
    "level_raised": "校园欺凌事件续报（等级提升）",
    "deadline_missed": "超时未办事项",
    "deadline_reminder": "催办提醒",
    "help_requested": "紧急求救",
    "help_urgent": "紧急求救·请立即处置",
    "lookback_due": "回头看复查任务",
    "change_resolved": "案件变更审批结果",
    "family_update": "案件进展告知",
}
# Notices an official's act causes (escalation's act_handler): what happened, and what is asked of the reader.
_ACT_KIND = {
    "level_raised_by_official": "认定等级提升",
    "referred_to_police": "移送公安机关",
    "public_attention_flagged": "社会关注度高",
    "follow_up_ordered": "限期续报",
    "case_transferred": "移送检察机关",
    "help_resolution_contested": "求救处理结论未获认可",
}
_ACT_ASK = {
    "level_raised_by_official": "请按提升后的等级落实新增的规定事项。",
    "referred_to_police": "请公安机关及时介入处置，并在专门档案系统中登记接收情况。",
    "public_attention_flagged": "请知悉并跟进。",
    "follow_up_ordered": "请学校按期续报处置进展。",
    "case_transferred": _ASK[RecipientRole.procuratorate],
    "help_resolution_contested": "请重新核查并答复求救人，必要时将其转为欺凌事件上报。",
}
_SHORT_KIND.update(_ACT_KIND)
_SHORT_KIND.update(CAMPAIGN_SHORT_KIND)
FAMILY_ROLES = frozenset({RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian})


def render_short(req: NotificationRequested, link: str | None) -> Short:
    """School, level, what is asked of the reader, the case reference and the signed link; nothing else."""
    if req.purpose == OVERDUE_DIGEST:
        return Short(*digest_short(req, link))
    f = req.facts
    level = LEVEL_ZH[f.level] if f.level else (f.case_kind_zh or "待认定")
    ask = _SHORT_ASK.get(req.recipient.role, "请及时处理")
    if req.purpose in CAMPAIGN_PURPOSES:
        level, ask = short_parts(req)
        if f.due_at is not None:
            ask += f"（{_local(f.due_at)}前）"
    elif req.purpose == "family_update" and f.update_zh:
        ask = f.update_zh.rstrip("。")  # what happened for their child: fixed phrases, no name
    else:
        if f.ack_required:
            ask += "，并点击链接确认收到"
        if f.due_at is not None:
            ask += f"（{_local(f.due_at)}前）"
    params = {"school": f.school_name, "kind": _SHORT_KIND.get(req.purpose, "通知"), "level": level, "ask": ask,
              "ref": f.case_ref, "link": link or ""}
    text = (f"【{params['kind']}】{params['school']}，{params['level']}。{params['ask']}。"
            f"编号{params['ref']}" + (f"，详情：{link}" if link else "。"))
    return Short(params, text)


def _local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%m月%d日 %H:%M")


ARCHIVE_HINT = "详情请凭案件编号在专门档案系统中查阅。"
HELP_HINT = "求救内容请凭求救编号在专门档案系统中查阅。"
HELP_ANSWER = "登录系统查看并答复"
ACT_HINT = "详情请凭编号在专门档案系统中查阅。"


def console_link(req: NotificationRequested, console_url: str) -> str:
    """Where an official or the school reads this notice's case in the console: the help request's page for
    the school told of one, the case's page otherwise (a case id or help code, never a name)."""
    if req.purpose == "help_requested":
        return f"{console_url}/school/help/{req.facts.case_ref}"
    return f"{console_url}/cases/{req.incident_id}"


def _with_console(text: Rendered, req: NotificationRequested, console_url: str) -> Rendered:
    """Officials and schools are pointed at the console's page of the case rather than told to look it up."""
    if not console_url or req.recipient.role in FAMILY_ROLES:
        return text
    link = console_link(req, console_url.rstrip("/"))
    body = (text.body.replace(ARCHIVE_HINT, f"详情请登录学生欺凌防治工作平台查阅：{link}")
            .replace(ACT_HINT, f"详情请登录学生欺凌防治工作平台查阅：{link}")
            .replace(HELP_HINT, f"求救内容请登录学生欺凌防治工作平台查阅：{link}")
            .replace(HELP_ANSWER, f"登录学生欺凌防治工作平台（{link}）查看并答复"))
    return Rendered(text.subject, body)


def render(req: NotificationRequested, ack_url: str | None = None, console_url: str = "") -> Rendered:
    """The notice; with `console_url`, officials' and schools' notices link to the case in the console."""
    text = _with_console(_render(req), req, console_url)
    if ack_url is None:
        return text
    if req.recipient.role in FAMILY_ROLES:  # the link's page is the family's way to write to the school
        return Rendered(text.subject, text.body + f"\n查看本通知或给学校留言，请打开以下链接：\n{ack_url}\n")
    return Rendered(text.subject, text.body + f"\n请点击以下链接确认已收到本通知：\n{ack_url}\n")


def _render(req: NotificationRequested) -> Rendered:
    if req.purpose == "deadline_missed":
        return _deadline_missed(req)
    if req.purpose == "deadline_reminder":
        return _deadline_reminder(req)
    if req.purpose == "help_requested":
        return _help_requested(req)
    if req.purpose == "help_urgent":
        return _help_urgent(req)
    if req.purpose == "lookback_due":
        return _lookback_due(req)
    if req.purpose == "change_resolved":
        return _change_resolved(req)
    if req.purpose == OVERDUE_DIGEST:
        return Rendered(*digest_mail(req))
    if req.purpose in CAMPAIGN_PURPOSES:
        return Rendered(*render_campaign(req))
    if req.purpose in _ACT_KIND:
        return _official_act(req)
    if req.purpose == "family_update":
        return _family_update(req)
    f = req.facts
    role = req.recipient.role
    when = f.occurred_at.astimezone(SHANGHAI).strftime("%Y年%m月%d日 %H:%M")
    level = LEVEL_ZH.get(f.level, "待认定") if f.level else "待认定"
    category = CATEGORY_ZH.get(f.category, "其他") if f.category else "其他"
    if role in (RecipientRole.victim_guardian, RecipientRole.perpetrator_guardian):
        child = f.child_name or ""
        if role == RecipientRole.victim_guardian:
            what = (f"您的孩子{child}在校遭受了一起欺凌事件（{category}）。"
                    "学校已启动处置，将落实保护措施并安排心理辅导。")
        else:
            what = f"您的孩子{child}涉及一起校园欺凌事件（{category}）。学校已启动调查，请您配合学校做好教育工作。"
        body = (
            f"{req.recipient.display_name}：\n\n您好。{f.school_name}告知：{when}，{what}\n"
            f"学校初步认定情节为“{level}”，将尽快与您联系，告知调查进展和处理意见。\n\n"
            f"案件编号：{f.case_ref}\n{f.school_name}\n"
        )
        return Rendered(subject=f"【校园欺凌事件告知】{f.school_name} {f.case_ref}", body=body)
    due = ""
    if f.due_at is not None:
        due = f"请于{_local(f.due_at)}前{'确认收到并' if f.ack_required else ''}处理。\n"
    tasks = "".join(f"- {t.zh}（{_local(t.due_at)}前）\n" for t in f.tasks)
    body = (
        f"{req.recipient.display_name}：\n\n{f.school_name}报告校园欺凌事件一起。\n"
        f"认定等级：{level}\n发生时间：{when}\n事件类别：{category}\n认定依据：{'；'.join(f.reasons_zh)}\n\n"
        f"{_ASK.get(role, '')}\n{due}" + (f"需完成的事项：\n{tasks}" if tasks else "")
        + f"{ARCHIVE_HINT}\n\n案件编号：{f.case_ref}\n"
    )
    kind = "续报·等级提升" if req.purpose == "level_raised" else "校园欺凌事件报告"
    return Rendered(subject=f"【{kind}】{f.school_name} {level} {f.case_ref}", body=body)


def _deadline_missed(req: NotificationRequested) -> Rendered:
    """To the next contact in the chain: which duty was not done by when, and by when it now must be."""
    f = req.facts
    case = f"校园欺凌事件（认定等级：{LEVEL_ZH[f.level]}）" if f.level else (f.case_kind_zh or "待办事项")
    missed = f.missed.zh if f.missed else "规定事项"
    was_due = f"{_local(f.missed.due_at)}前" if f.missed else "规定时限内"
    now_due = f"请于{_local(f.due_at)}前督促办理。\n" if f.due_at else ""
    body = (
        f"{req.recipient.display_name}：\n\n{f.school_name}的{case}中，"
        f"“{missed}”应于{was_due}完成，至今未完成。\n按处置规则现报请您督办。{now_due}"
        f"认定依据：{'；'.join(f.reasons_zh)}\n{ARCHIVE_HINT}\n\n案件编号：{f.case_ref}\n"
    )
    return Rendered(subject=f"【超时未办】{f.school_name} {f.case_ref}：{missed}", body=body)


def _deadline_reminder(req: NotificationRequested) -> Rendered:
    """To the one who owes the duty: it is late, and by when it must now be done."""
    f = req.facts
    missed = f.missed.zh if f.missed else "规定事项"
    was_due = f"{_local(f.missed.due_at)}前" if f.missed else "规定时限内"
    now_due = f"请于{_local(f.due_at)}前完成，" if f.due_at else "请尽快完成，"
    body = (
        f"{req.recipient.display_name}：\n\n{f.school_name}案件（编号 {f.case_ref}）中，"
        f"您应于{was_due}完成的“{missed}”尚未完成。\n{now_due}逾期将按规定报上级督办。\n\n案件编号：{f.case_ref}\n"
    )
    return Rendered(subject=f"【催办提醒】{f.school_name} {f.case_ref}：{missed}", body=body)


def _help_requested(req: NotificationRequested) -> Rendered:
    """To the school: a help request arrived. Nothing of its content: it is read in the system."""
    f = req.facts
    urgent = "（求助人标注为紧急）" if f.reasons_zh else ""
    due = f"请于{_local(f.due_at)}前" if f.due_at else "请尽快"
    body = (
        f"{req.recipient.display_name}：\n\n本校收到一条学生或家长的紧急求救{urgent}。\n"
        f"{due}{HELP_ANSWER}，必要时将其转为欺凌事件上报。逾期未答复将报告教育主管部门。\n\n"
        f"求救编号：{f.case_ref}\n"
    )
    return Rendered(subject=f"【紧急求救】{f.school_name} {f.case_ref}{' 紧急' if f.reasons_zh else ''}", body=body)


def _help_urgent(req: NotificationRequested) -> Rendered:
    """To the bureau's duty room: someone at a school says they are in danger now. Only the school, the code
    and the link: who asked and what they wrote are read in the system."""
    f = req.facts
    due = f"于{_local(f.due_at)}前确认收到" if f.due_at else "立即确认收到"
    body = (
        f"{req.recipient.display_name}：\n\n{f.school_name}收到一条标注为紧急（称正处于危险中）的学生或家长求救。\n"
        f"请立即联系学校核实情况、确保学生安全，必要时协调公安机关，并{due}。逾期未确认将按规定报上级。\n"
        f"{HELP_HINT}\n\n求救编号：{f.case_ref}\n"
    )
    return Rendered(subject=f"【紧急求救·请立即处置】{f.school_name} {f.case_ref}", body=body)


def _lookback_due(req: NotificationRequested) -> Rendered:
    f = req.facts
    due = f"请于{_local(f.due_at)}前完成" if f.due_at else "请及时完成"
    body = (
        f"{req.recipient.display_name}：\n\n{f.school_name}{'；'.join(f.reasons_zh)}。"
        f"按专项整治工作要求，须对该校开展“回头看”复查，{due}。\n\n任务编号：{f.case_ref}\n"
    )
    return Rendered(subject=f"【回头看】{f.school_name} 复查任务 {f.case_ref}", body=body)


def _change_resolved(req: NotificationRequested) -> Rendered:
    """To the school and the bureau: the outcome of a proposed lower level or closure, and why."""
    f = req.facts
    body = (
        f"{req.recipient.display_name}：\n\n{f.school_name}报告的校园欺凌事件（案件编号 {f.case_ref}）："
        f"{'；'.join(f.reasons_zh)}。\n现行认定等级：{LEVEL_ZH[f.level] if f.level else '—'}。\n"
        f"{ARCHIVE_HINT}\n\n"
        f"案件编号：{f.case_ref}\n"
    )
    return Rendered(subject=f"【审批结果】{f.school_name} {f.case_ref}", body=body)


def _official_act(req: NotificationRequested) -> Rendered:
    """To whoever an official's act concerns: what was decided and what is now asked of them; no child's name
    and none of the official's own words (they stay in the sealed record)."""
    f = req.facts
    what = f"校园欺凌事件（认定等级：{LEVEL_ZH[f.level]}）" if f.level else (f.case_kind_zh or "案件")
    grounds = f"认定依据：{'；'.join(f.reasons_zh)}\n" if f.level and f.reasons_zh else ""
    due = f"请于{_local(f.due_at)}前{'确认收到并' if f.ack_required else ''}办理。\n" if f.due_at else ""
    tasks = "".join(f"- {t.zh}（{_local(t.due_at)}前）\n" for t in f.tasks)
    body = (
        f"{req.recipient.display_name}：\n\n{f.school_name}的{what}：{f.update_zh or _ACT_KIND[req.purpose]}。\n"
        f"{grounds}{_ACT_ASK[req.purpose]}\n{due}" + (f"需完成的事项：\n{tasks}" if tasks else "")
        + f"{ACT_HINT}\n\n编号：{f.case_ref}\n"
    )
    return Rendered(subject=f"【{_ACT_KIND[req.purpose]}】{f.school_name} {f.case_ref}", body=body)
def _family_update(req: NotificationRequested) -> Rendered:
    """To a family: what happened in their case, about their own child only (escalation's fixed phrases)."""
    f = req.facts
    child = f"您的孩子{f.child_name}" if f.child_name else "您的孩子"
    body = (
        f"{req.recipient.display_name}：\n\n您好。{f.school_name}告知：关于{child}涉及的校园欺凌事件"
        f"（案件编号 {f.case_ref}），{f.update_zh or '学校将与您联系，说明处置进展。'}\n"
        "如有疑问，请与学校联系。\n\n"
        f"案件编号：{f.case_ref}\n{f.school_name}\n"
    )
    return Rendered(subject=f"【案件进展告知】{f.school_name} {f.case_ref}", body=body)
