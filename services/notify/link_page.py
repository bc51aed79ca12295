"""The look of notify's link pages (确认收到, the parents' letter, a family's message): the console's layout,
stylesheet and emergency footer, from the console's own files, so the system is one site to its readers.

The stylesheet is served here at /static/console.css from the console's source file (not a copy), and
every answer carries the console's security headers (strict CSP: no inline style or script).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

import services.console

CONSOLE = Path(services.console.__file__).parent
STYLESHEET = CONSOLE / "static" / "console.css"
TEMPLATES = CONSOLE / "templates"
_ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """`body` is HTML built with every value escaped (html.escape) by the caller."""
    html = _ENV.get_template("link_page.html").render(title=title, body=Markup(body), standalone=True, session=None)
    return HTMLResponse(html, status_code=status)


def stylesheet_router() -> APIRouter:
    r = APIRouter()

    @r.get("/static/console.css", include_in_schema=False)
    async def stylesheet() -> FileResponse:
        return FileResponse(STYLESHEET, media_type="text/css")

    return r
