"""Reading the customer's side in tests: the personal link in a mail, the page's CSRF token and
the slots it offers."""

from __future__ import annotations

import re
from email.message import EmailMessage

import httpx

LINK = re.compile(r"https?://[^\s/]+/c/([A-Za-z0-9_-]{43})")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
SLOT = re.compile(r'data-start="([^"]+)"')


def text_of(message: EmailMessage) -> str:
    """The plain-text part of a mail (multipart/alternative or not)."""
    body = message.get_body(("plain",))
    assert body is not None, "the mail has no text part"
    text = body.get_content()
    assert isinstance(text, str)
    return text


def token_in(message: EmailMessage) -> str:
    """The customer page token of the link in a mail's text."""
    found = LINK.search(text_of(message))
    assert found, "the mail carries no customer page link"
    return found.group(1)


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, "the page has no form token"
    return found.group(1)


def slots_of(page: httpx.Response) -> list[str]:
    """The starts of the free times the page offers, in its order (earliest first)."""
    return SLOT.findall(page.text)
