"""A campaign's notices in Chinese (pure): the school told its duties when the bureau starts a campaign, and
a missed campaign duty told up its chain or reminded to its owner. Which campaign, which school (or the
whole jurisdiction), which phase and duty, by when; a campaign concerns no child, and names none.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared.contracts import NotificationRequested
from shared.directory import WHOLE_JURISDICTION

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAMPAIGN_STARTED = "campaign_started"
CAMPAIGN_MISSED = "campaign_deadline_missed"
CAMPAIGN_REMINDER = "campaign_deadline_reminder"
PURPOSES = frozenset({CAMPAIGN_STARTED, CAMPAIGN_MISSED, CAMPAIGN_REMINDER})
SHORT_KIND = {CAMPAIGN_STARTED: "专项整治启动", CAMPAIGN_MISSED: "专项整治逾期未办",
              CAMPAIGN_REMINDER: "专项整治催办提醒"}
HINT = "详情请登录学生欺凌防治工作平台“专项整治”页面查阅。"


def deadline_zh(at: datetime) -> str:
    """A date's deadline is the end of that day: 2027年03月31日24时, not 04月01日 00:00."""
    local = at.astimezone(SHANGHAI)
    if local.time() == time(0):
        return f"{local.date() - timedelta(days=1):%Y年%m月%d日}24时"
    return f"{local:%Y年%m月%d日 %H:%M}"


def _title(req: NotificationRequested) -> str:
    return req.facts.reasons_zh[0] if req.facts.reasons_zh else "专项整治"


def _whose(req: NotificationRequested) -> str:
    f = req.facts
    return "本辖区" if f.school_id.startswith(WHOLE_JURISDICTION) else f.school_name


def _brief(missed: str) -> str:
    """The duty without the campaign's word, for a subject that already says 专项整治: （阶段）：事项."""
    return missed.removeprefix("专项整治")


def short_parts(req: NotificationRequested) -> tuple[str, str]:
    """An SMS's or robot's `level` and `ask` for a campaign notice: the phase and duty, and what to do."""
    f = req.facts
    if req.purpose == CAMPAIGN_STARTED or f.missed is None:
        return _title(req), f"须完成{len(f.tasks)}项事项，请按期完成" if f.tasks else "请按期完成"
    phase, _, duty = _brief(f.missed.zh).partition("：")
    what = f"{phase.strip('（）')}阶段“{duty}”逾期未完成" if duty else f"“{f.missed.zh}”逾期未完成"
    return what, "请尽快完成" if req.purpose == CAMPAIGN_REMINDER else "请督办"


def render_campaign(req: NotificationRequested) -> tuple[str, str]:
    """(subject, body) of a campaign notice."""
    f = req.facts
    title, display = _title(req), req.recipient.display_name
    if req.purpose == CAMPAIGN_STARTED:
        tasks = "".join(f"- {t.zh}（{deadline_zh(t.due_at)}前）\n" for t in f.tasks)
        body = (f"{display}：\n\n教育局已启动“{title}”。本校须在截止时间前完成以下事项：\n{tasks}"
                "请按期完成，并在学生欺凌防治工作平台报送相应材料；逾期未完成的，将按规定报请督办。\n"
                f"{HINT}\n\n编号：{f.case_ref}\n")
        return f"【专项整治】{title}：{f.school_name}须完成的事项", body
    missed = f.missed.zh if f.missed else "规定事项"
    was_due = f"{deadline_zh(f.missed.due_at)}前" if f.missed else "规定时限内"
    owner = f"（应办单位：{f.update_zh}）" if f.update_zh else ""
    if req.purpose == CAMPAIGN_REMINDER:
        now_due = f"请于{deadline_zh(f.due_at)}前完成，" if f.due_at else "请尽快完成，"
        body = (f"{display}：\n\n“{title}”中，{_whose(req)}应于{was_due}完成的“{missed}”尚未完成。\n"
                f"{now_due}逾期将按规定报上级督办。\n{HINT}\n\n编号：{f.case_ref}\n")
        return f"【专项整治·催办提醒】{_whose(req)}{_brief(missed)}", body
    now_due = f"请于{deadline_zh(f.due_at)}前督促办理。\n" if f.due_at else "请督促办理。\n"
    body = (f"{display}：\n\n“{title}”中，{_whose(req)}的“{missed}”{owner}应于{was_due}完成，至今未完成。\n"
            f"按专项整治工作要求现报请您督办。{now_due}{HINT}\n\n编号：{f.case_ref}\n")
    return f"【专项整治·逾期未办】{_whose(req)}{_brief(missed)}", body
