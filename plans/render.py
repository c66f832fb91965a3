"""The loader hook for this package's templates, and HTML to PDF.

Templates are rendered through the project's one Jinja2 environment
(``notifications.render.get_environment``): ``environment()`` is an overlay of it
whose loader looks in ``plans/templates`` first and then in the shared folders,
so autoescaping, the i18n extension and the policies are the shared ones and the
shared environment itself is never changed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader

from notifications.render import get_environment, template_context

TEMPLATES = Path(__file__).resolve().parent / "templates"


@cache
def environment() -> Environment:
    """The shared environment, overlaid with a loader that also finds ``plans/templates``."""
    shared = get_environment()
    return shared.overlay(loader=ChoiceLoader([FileSystemLoader(str(TEMPLATES)), shared.loader]))


def render_html(name: str, context: dict, locale: str) -> str:
    """Render ``plans/<name>`` in ``locale`` with the shared translation and format helpers."""
    return environment().get_template(f"plans/{name}").render({**template_context(locale), **context})


def html_to_pdf(html: str) -> bytes:
    """A PDF of rendered HTML (WeasyPrint)."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf()
