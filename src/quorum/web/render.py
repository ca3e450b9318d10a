"""Jinja2 for the dashboard's pages: autoescaped templates shipped in the package, one response helper."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

__all__ = ("markdown_html", "render")


@lru_cache(maxsize=1)
def _environment() -> Environment:
    from quorum.web.assets import module_tags, static_url

    env = Environment(loader=PackageLoader("quorum.web", "templates"), autoescape=select_autoescape(
        enabled_extensions=("html",), default_for_string=True, default=True))
    env.globals["module_tags"] = module_tags
    env.globals["static_url"] = static_url
    return env


def render(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = _environment().get_template(name).render(request_path=request.url.path, **context)
    # pages hold live data: never cached, never stored by a shared cache
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})


def markdown_html(text: str) -> str:
    """A task's Markdown as HTML. Raw HTML in it is shown as text (``html: False``): a task file is
    trusted to run, not to put script into the dashboard."""
    from markdown_it import MarkdownIt

    html: str = MarkdownIt("commonmark", {"html": False}).enable("table").render(text)
    return html
