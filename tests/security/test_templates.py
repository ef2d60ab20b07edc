"""Templates carry no inline script: no <script> with a body, no on...= event handler, no hx-on, no
javascript: URL and no <style> block or style attribute in pages (emails keep theirs: mail clients need
them). JSON data in <script type="application/json"> would be allowed: it never runs."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
PAGES = [p for p in TEMPLATES.rglob("*.html") if "emails" not in p.relative_to(TEMPLATES).parts]

SCRIPT_WITH_BODY = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
FORBIDDEN = {
    "inline <script>": SCRIPT_WITH_BODY,
    "event handler attribute": EVENT_HANDLER,
    "hx-on": re.compile(r"\bhx-on", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "<style> block": re.compile(r"<style", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "js: or javascript: in hx-vals": re.compile(r"hx-vals\s*=\s*['\"]\s*(js|javascript):", re.IGNORECASE),
}


def test_templates_have_no_inline_script_or_style() -> None:
    found = [
        f"{page.relative_to(TEMPLATES)}:{number}: {name}"
        for page in PAGES
        for number, line in enumerate(page.read_text().splitlines(), start=1)
        for name, pattern in FORBIDDEN.items()
        if pattern.search(line)
    ]
    assert found == []
    assert len(PAGES) > 50  # the walk saw the templates


def test_htmx_is_configured_for_the_policy() -> None:
    base = (TEMPLATES / "base.html").read_text()
    assert '"includeIndicatorStyles": false' in base and '"allowEval": false' in base
    css = (TEMPLATES.parent / "static" / "css" / "app.css").read_text()
    assert ".htmx-request .htmx-indicator" in css
