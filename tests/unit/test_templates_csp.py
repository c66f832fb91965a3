"""Pages work under the Content-Security-Policy: no template carries inline script, an event
handler attribute or a javascript: URL (the policy's script-src is 'self' only)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = [ROOT / "api" / "templates", ROOT / "surveys" / "templates", ROOT / "plans"]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def _templates() -> list[Path]:
    return [p for d in TEMPLATE_DIRS if d.exists() for p in d.rglob("*.html")]


def test_no_template_needs_inline_script() -> None:
    found = _templates()
    assert len(found) > 20  # the pages, the survey pages and the reports are all scanned
    offenders = [(p.relative_to(ROOT), pattern.pattern) for p in found
                 for pattern in (INLINE_SCRIPT, HANDLER, JS_URL) if pattern.search(p.read_text("utf-8"))]
    assert offenders == []


def test_the_scan_recognises_what_it_forbids() -> None:
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/htmx.min.js" defer></script>')
    assert HANDLER.search('<button onclick="go()">') and not HANDLER.search('<p class="one">')
    assert JS_URL.search('<a href="javascript:void(0)">')
