"""A mail's HTML part: the plain-text body in the pipeline's look, with the CSS inlined.

Pure: text in, HTML out. The plain text stays the mail's source of truth (what a process owner
writes in ``pipelines.yaml``); this module only dresses it: paragraphs, line breaks, links, a
button for the customer's page, the top bar and the footer. Every piece of the text is escaped
here, and the layout (``mail_layout.html``) is rendered with autoescaping on, so a customer
called ``<script>`` arrives as text.

Mail clients ignore or strip ``<style>`` (Gmail in many views, Outlook's Word engine in part):
css_inline moves the layout's rules into ``style`` attributes and drops the block.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import css_inline
import jinja2
from markupsafe import Markup, escape

from kickoff.domain import MailLook

LAYOUT = "mail_layout.html"

_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")
_URL = re.compile(r"https?://[^\s<>\"']+")
_TRAILING = ".,;:!?"
"""Punctuation that ends a sentence after a URL rather than belonging to it."""
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

BUTTON_LABELS = {
    "en": "Open your page",
    "sv": "Öppna er sida",
    "nb": "Åpne siden deres",
    "nn": "Opne sida dykkar",
    "da": "Åbn jeres side",
    "fi": "Avaa oma sivunne",
    "de": "Ihre Seite öffnen",
}
"""The label of the button to the customer's page, by language (English for any other)."""

_layouts = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# No network from an activity: the layout links no stylesheet, and none may be fetched.
_inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False, keep_at_rules=False)


def button_label(language: str) -> str:
    """The customer-page button's label in ``language`` (``sv-SE`` counts as ``sv``)."""
    primary = language.split("-", 1)[0].lower()
    return BUTTON_LABELS.get(primary, BUTTON_LABELS["en"])


def _split_url(match: str) -> tuple[str, str]:
    """A URL found in text and the punctuation after it (``…/c/abc.`` → ``…/c/abc``, ``.``)."""
    url = match.rstrip(_TRAILING)
    if url.endswith(")") and "(" not in url:
        url = url[:-1]
    return url, match[len(url) :]


def line_html(line: str) -> Markup:
    """One line of text, escaped, with its http(s) URLs as links."""
    out = Markup()
    position = 0
    for found in _URL.finditer(line):
        url, rest = _split_url(found.group())
        out += escape(line[position : found.start()])
        out += Markup('<a href="{0}">{0}</a>').format(url)
        out += escape(rest)
        position = found.end()
    return out + escape(line[position:])


def _lines_html(lines: list[str]) -> Markup:
    return Markup("<br>\n").join(line_html(line.strip()) for line in lines)


def _button_html(url: str, label: str) -> Markup:
    # A table cell carries the colour: Outlook's Word engine ignores padding and background
    # on a bare <a>. The URL itself follows as text, for clients that show no button and
    # for readers who copy it.
    return Markup(
        '<table role="presentation" cellpadding="0" cellspacing="0" class="button">'
        '<tr><td class="button-cell"><a class="button-link" href="{url}">{label}</a></td></tr>'
        '</table>\n<p class="button-url"><a href="{url}">{url}</a></p>'
    ).format(url=url, label=label)


def body_html(text: str, *, button_url: str | None = None, button_text: str = "") -> Markup:
    """``text`` as HTML: blank-line-separated paragraphs become ``<p>``, single newlines ``<br>``,
    URLs links, and a line that is just ``button_url`` a button labelled ``button_text``."""
    text = text.replace("\r\n", "\n").strip()
    blocks: list[Markup] = []
    for paragraph in _BLANK_LINE.split(text):
        if not paragraph.strip():
            continue
        run: list[str] = []
        for line in paragraph.split("\n"):
            if button_url is not None and line.strip() == button_url:
                if run:
                    blocks.append(Markup("<p>{}</p>").format(_lines_html(run)))
                    run = []
                blocks.append(_button_html(button_url, button_text))
            else:
                run.append(line)
        if run:
            blocks.append(Markup("<p>{}</p>").format(_lines_html(run)))
    return Markup("\n").join(blocks)


def _colour(value: str, default: str) -> str:
    """A colour goes into CSS: only ``#rrggbb`` (what the pipeline's branding allows) passes."""
    return value.lower() if _HEX_COLOUR.match(value) else default


def _logo(url: str | None) -> str | None:
    """Only an https logo is shown (mail clients load it; a plain-http image is blocked or
    flagged as insecure)."""
    return url if url is not None and url.startswith("https://") and not re.search(r"\s", url) else None


@lru_cache(maxsize=1)
def _layout() -> jinja2.Template:
    return _layouts.get_template(LAYOUT)


def render_html(body: str, look: MailLook, *, subject: str, customer_page: str | None = None) -> str:
    """The mail's whole HTML document in ``look``, with every CSS rule inlined (no ``<style>``)."""
    defaults = MailLook()
    html = _layout().render(
        language=look.language,
        subject=subject,
        colour=_colour(look.colour, defaults.colour),
        accent=_colour(look.accent, defaults.accent),
        logo=_logo(look.logo),
        logo_alt=look.logo_alt or "",
        body=body_html(body, button_url=customer_page, button_text=button_label(look.language)),
        footer=body_html(look.footer) if look.footer else None,
    )
    return _inliner.inline(html)
