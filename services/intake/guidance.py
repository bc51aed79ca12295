"""What a student or parent reads the moment a help request is accepted (pure, Simplified Chinese).

Whatever the school does next, the requester must know at once where immediate help is: 110 for
danger now, and 12355 (the youth rights and psychological support hotline). Every request carries
it; an urgent one leads with it. The bureau reads every help request of its schools in the archive,
and the duty room is told of urgent ones at once (policy `help.urgent_to_duty_room`).
"""

from __future__ import annotations

HOTLINES_ZH = "如遇紧急危险，请立即拨打110；心理援助与青少年维权热线：12355。"
URGENT_ZH = HOTLINES_ZH + "学校和教育局已收到您的求助。"
GENERAL_ZH = "学校已收到您的求助，会尽快答复，请凭求助编号和查询码查看进展。" + HOTLINES_ZH


def guidance_zh(urgent: bool) -> str:
    return URGENT_ZH if urgent else GENERAL_ZH
