"""A family's reply path on its notice's page (pure): the form "给学校留言", its limits, and what the
family is told happens with a message.

No JavaScript; the signed token in the URL is the only credential (a cross-site form cannot know it, and
no cookie is involved); a hidden nonce makes a resubmitted form count once.
"""

from __future__ import annotations

import html
import re
import uuid

MAX_CHARS = 1000
PER_DAY = 5  # messages per notice and 24 hours

WHAT_HAPPENS_ZH = (
    "您的留言将加密保存在该事件的专门档案中，仅学校和教育主管部门可以查阅，学校将与您联系。"
    "请勿在留言中填写其他学生的姓名或联系方式。如遇紧急危险，请立即拨打 110；"
    "青少年服务热线 12355。"
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def form(action: str, nonce: uuid.UUID, text: str = "", error: str | None = None) -> str:
    """The form under the notice; `text` and `error` when it comes back refused. `action` is relative
    (works behind a proxy's path prefix): "<token>/message" from the notice's page, "message" from the form's."""
    problem = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return f"""<h2>给学校留言</h2><p>{WHAT_HAPPENS_ZH}</p>{problem}
<form method="post" action="{html.escape(action)}">
<input type="hidden" name="nonce" value="{nonce}">
<textarea name="text" rows="6" maxlength="{MAX_CHARS}" required>{html.escape(text)}</textarea>
<p>最多 {MAX_CHARS} 字。</p><button type="submit">发送留言</button></form>"""


def clean(raw: str) -> str:
    """The message as kept: control characters out, surrounding space trimmed (lines kept)."""
    return _CONTROL.sub("", raw.replace("\r\n", "\n")).strip()


def refusal(text: str) -> str | None:
    """Why a message cannot be taken, in Chinese, or None."""
    if not text:
        return "留言内容不能为空。"
    if len(text) > MAX_CHARS:
        return f"留言不能超过 {MAX_CHARS} 字，请删减后再发送。"
    return None
