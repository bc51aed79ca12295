"""A robot's digest message (pure, zh-CN): one line per waiting case, as many as the robot's limit holds.

Each line: school, level, what is asked, the case reference and the link — what a robot notice says
today, nothing more (officials' notices name no child). The first lines go in the first message;
what does not fit waits for the robot's next token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.notify.channels._http import truncate_utf8

# Content limits of a text message: WeCom documents 2048 bytes; DingTalk publishes none for text, so we
# keep to a conservative 4000 bytes (its markdown/ActionCard guidance is of that order).
MAX_BYTES = {"wecom": 2048, "dingtalk": 4000}


def digest_line(params: Mapping[str, str]) -> str:
    """One case, from the short notice's parameters (templates.render_short)."""
    line = f"{params['school']}｜{params['kind']}｜{params['level']}｜{params['ask']}｜编号{params['ref']}"
    return line + (f"｜{params['link']}" if params.get("link") else "")


def _header(total: int, n: int) -> str:
    if n >= total:
        return f"【待处置案件汇总】共{total}件，请逐件处理：\n"
    return f"【待处置案件汇总】共{total}件待处置，本条列出最早的{n}件，其余随后发送：\n"


def first_digest(lines: Sequence[str], max_bytes: int) -> tuple[str, int]:
    """(text, how many lines it holds): the oldest lines that fit in one message (at least one)."""
    total = len(lines)
    body: list[str] = []
    for n, line in enumerate(lines, start=1):
        candidate = _header(total, n) + "".join(body) + f"{n}. {line}\n"
        if len(candidate.encode()) > max_bytes and body:
            break
        body.append(f"{n}. {line}\n")
    n = len(body)
    return truncate_utf8(_header(total, n) + "".join(body), max_bytes), n
