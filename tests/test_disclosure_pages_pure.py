"""The console's disclosure helpers (pure): the Atom feed as XML a reader parses, with every text escaped;
the findings' offsets turned into the marked pieces of the draft page."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import pytest

from services.console.disclosure_feed import ATOM, atom_feed
from services.console.pages.disclosures import findings_of, marked

pytestmark = pytest.mark.pure
NS = {"a": ATOM}


def test_the_feed_is_atom_with_each_notice_and_escapes_its_text() -> None:
    notices = [{"disclosure_id": "11111111-1111-1111-1111-111111111111", "title": "关于<某>中学 & 通报",
                "published_at": "2026-12-01T02:00:00Z", "level": "severe", "level_zh": "情节严重",
                "text": "一、处置措施：</content><script>x</script>\n二、……", "month": "2026-11"}]
    xml = atom_feed(notices, "https://example.cn", datetime(2026, 12, 1, tzinfo=UTC))
    assert xml.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    feed = ET.fromstring(xml)
    assert feed.tag == f"{{{ATOM}}}feed"
    [entry] = feed.findall("a:entry", NS)
    assert entry.findtext("a:title", namespaces=NS) == "关于<某>中学 & 通报"
    assert entry.findtext("a:content", namespaces=NS) == notices[0]["text"]
    assert entry.findtext("a:id", namespaces=NS) == f"urn:uuid:{notices[0]['disclosure_id']}"
    assert entry.find("a:link", NS).get("href") == f"https://example.cn/public/disclosures/{notices[0]['disclosure_id']}"
    assert feed.findtext("a:updated", namespaces=NS) == "2026-12-01T02:00:00Z"
    empty = ET.fromstring(atom_feed([], "https://example.cn", datetime(2026, 12, 1, tzinfo=UTC)))
    assert empty.findall("a:entry", NS) == [] and empty.findtext("a:updated", namespaces=NS).startswith("2026-12-01")


def test_findings_mark_the_text_they_point_at() -> None:
    text = "李小明于11月3日被打。"
    errors = [{"field": "text[0:3]", "reason_zh": "第 1–3 字：个人信息"}, {"field": "text[4:9]", "reason_zh": "日期"},
              {"field": "version", "reason_zh": "无关"}]
    found = findings_of(errors, text)
    assert [(f["match"], f["start"]) for f in found] == [("李小明", 0), ("11月3日", 4)]
    assert marked(text, [(0, 3), (4, 9)]) == [("李小明", True), ("于", False), ("11月3日", True), ("被打。", False)]
    assert marked(text, [(10, 99)]) == [("李小明于11月3日被", False), ("打。", True)]
    assert marked("", [(0, 1)]) == []
