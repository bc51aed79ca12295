"""The Atom feed of published notices (pure; the standard library's XML writer, which escapes every text)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:antibully:public-disclosures"
TITLE = "学生欺凌事件处置情况通报"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", attrs)
    if text is not None:
        el.text = text
    return el


def atom_feed(notices: list[dict[str, Any]], base_url: str, now: datetime) -> bytes:
    """`notices` as GET /v1/public/disclosures answers them (newest first)."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": "zh-CN"})
    _sub(feed, "id", FEED_ID)
    _sub(feed, "title", TITLE)
    updated = max((str(n["published_at"]) for n in notices), default=now.astimezone(UTC).isoformat())
    _sub(feed, "updated", updated)
    _sub(feed, "link", href=f"{base_url}/public/disclosures", rel="alternate", type="text/html")
    _sub(feed, "link", href=f"{base_url}/public/disclosures/feed.xml", rel="self", type="application/atom+xml")
    author = _sub(feed, "author")
    _sub(author, "name", "教育主管部门")
    for n in notices:
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"urn:uuid:{n['disclosure_id']}")
        _sub(entry, "title", str(n["title"]))
        _sub(entry, "updated", str(n["published_at"]))
        _sub(entry, "published", str(n["published_at"]))
        _sub(entry, "link", href=f"{base_url}/public/disclosures/{n['disclosure_id']}", rel="alternate",
             type="text/html")
        _sub(entry, "category", term=str(n["level"]), label=str(n.get("level_zh") or n["level"]))
        _sub(entry, "content", str(n["text"]), type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body
