"""The dashboard's static files: one version for all of them (a hash of their bytes), served under
``/static/<version>/`` with a year-long immutable cache, and the ``modulepreload`` links of a page.

Versioning the folder, not each URL, is what lets the ES modules import each other by relative path
(``./dom.js``) and still be cached for good: a new file set is a new folder.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ("STATIC_DIR", "ImmutableStatic", "asset_version", "module_tags", "static_url")

STATIC_DIR = Path(__file__).parent / "static"
_IMPORT = re.compile(r"""^import\s[^;]*?from\s+["']\./([\w-]+\.js)["']""", re.MULTILINE)


@lru_cache(maxsize=1)
def asset_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def static_url(path: str) -> str:
    return f"/static/{asset_version()}/{path}"


@lru_cache(maxsize=32)
def _imports(entry: str) -> tuple[str, ...]:
    """Every module ``entry`` imports, directly or not (so the browser fetches them all at once)."""
    seen: list[str] = []
    todo = [entry]
    while todo:
        name = todo.pop()
        for found in _IMPORT.findall((STATIC_DIR / "js" / name).read_text(encoding="utf-8")):
            if found not in seen and found != entry:
                seen.append(found)
                todo.append(found)
    return tuple(sorted(seen))


def module_tags(entry: str) -> Markup:
    tags = [f'<script type="module" src="{escape(static_url("js/" + entry))}"></script>']
    tags += [f'<link rel="modulepreload" href="{escape(static_url("js/" + name))}">'
             for name in _imports(entry)]
    return Markup("\n".join(tags))


class ImmutableStatic(StaticFiles):
    async def get_response(self, path: str, scope: Scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["cache-control"] = "public, max-age=31536000, immutable"
        return response
