"""Every mail is multipart/alternative: the text part as before, the same words as HTML in the
pipeline's look with its CSS inlined, and an iCalendar invitation when the mail carries one."""

from __future__ import annotations

import email
import email.policy
import re
import uuid
from datetime import UTC, date, datetime
from email.message import EmailMessage
from html.parser import HTMLParser

import icalendar
import pytest

from kickoff.activities.mail import InvalidInvitationError, render_message
from kickoff.activities.mail_html import body_html, button_label
from kickoff.domain import CalendarInvite, MailLook, SendMailInput
from kickoff.engine.messages import Work, describe_mail
from kickoff.pipelines.actions import Action, MailSpec, NotifySpec
from kickoff.pipelines.customer import Branding
from tests.unit.engine.support import STOCKHOLM, local, start

MAIL_FROM = "Kickoff <kickoff@test.example>"
PAGE = "https://kickoff.example/c/tok3n-Abc_123"
LOOK = MailLook(
    language="sv",
    colour="#00594f",
    accent="#eef6f4",
    logo="https://assist.example/static/assist-logo.png",
    logo_alt="Assist",
    footer="Assist · Onboardingteamet · onboarding-team@assist.example",
)
WELCOME = (
    "Hej {{ main_user.name }},\n\n"
    "Varmt välkommen till Assist, {{ customer.name }}! På er egen sida ser ni planen:\n"
    "{{ customer_page }}\n\n"
    "Du loggar in här: https://digital.assist.example/logga-in.\n"
    "Med vänliga hälsningar\nOnboardingteamet\n"
)
CONTEXT: dict[str, object] = {"customer": {"name": "Åre Hälsa & Söner AB"}, "main_user": {"name": "Örjan"}}


def mail_input(**overrides: object) -> SendMailInput:
    values: dict[str, object] = {
        "onboarding_id": "SE-C-1001",
        "message_id": f"<{uuid.uuid4().hex}@kickoff.test>",
        "to": "orjan@are-halsa.example",
        "subject_template": "Välkommen, {{ customer.name }}!",
        "body_template": WELCOME,
        "context": CONTEXT,
        "look": LOOK,
    }
    values.update(overrides)
    return SendMailInput.model_validate(values)


def sent(request: SendMailInput, customer_page: str | None = PAGE) -> EmailMessage:
    """The message as a mail client gets it: rendered, serialized for SMTP, parsed back."""
    raw = render_message(request, MAIL_FROM, customer_page=customer_page).as_bytes(policy=email.policy.SMTP)
    assert raw.isascii()  # 7-bit: quoted-printable and base64 only, any relay takes it
    parsed = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(message: EmailMessage) -> tuple[str, str]:
    """The decoded text and HTML parts."""
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None
    assert html is not None
    return plain.get_content().replace("\r\n", "\n"), html.get_content()


class _Words(HTMLParser):
    """The text a reader sees in the HTML's <body> (block tags end a word)."""

    BLOCKS = frozenset({"p", "br", "td", "tr", "table", "div", "body"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_body = False
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_body = self.in_body or tag == "body"
        if tag in self.BLOCKS:
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BLOCKS:
            self.chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if self.in_body:
            self.chunks.append(data)


def html_words(html: str) -> list[str]:
    parser = _Words()
    parser.feed(html)
    parser.close()
    return "".join(parser.chunks).split()


def leftover(text: list[str], html: list[str]) -> list[str]:
    """The HTML's words once the text's words are matched in order; fails if one is missing."""
    rest: list[str] = []
    position = 0
    for word in text:
        while position < len(html) and html[position] != word:
            rest.append(html[position])
            position += 1
        assert position < len(html), f"the HTML lacks {word!r} (after {rest[-5:]})"
        position += 1
    return rest + html[position:]


def test_a_mail_is_multipart_alternative_with_the_text_part_as_before_and_html_after_it() -> None:
    """The message is multipart/alternative of text/plain then text/html, both UTF-8 and
    quoted-printable, and the text part is exactly the rendered template."""
    message = sent(mail_input())
    assert message.get_content_type() == "multipart/alternative"
    plain, html = list(message.iter_parts())
    assert [p.get_content_type() for p in (plain, html)] == ["text/plain", "text/html"]
    for part in (plain, html):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert parts(message)[0] == (
        "Hej Örjan,\n\nVarmt välkommen till Assist, Åre Hälsa & Söner AB! På er egen sida ser ni planen:\n"
        f"{PAGE}\n\nDu loggar in här: https://digital.assist.example/logga-in.\n"
        "Med vänliga hälsningar\nOnboardingteamet\n"
    )


@pytest.mark.parametrize(
    ("language", "body", "context"),
    [
        ("sv", WELCOME, CONTEXT),
        (
            "nb",
            "Hei {{ main_user.name }}!\n\nVi gleder oss til å jobbe med {{ customer.name }}.\n"
            "Les mer på https://pakkepilot.example/oppstart (to minutter).\n",
            {"customer": {"name": "Ørsta Øl & Bær AS"}, "main_user": {"name": "Åse Øvrebø"}},
        ),
        (
            "fi",
            "Hei {{ main_user.name }},\n\n\n  Tervetuloa! Sivunne: {{ customer_page }}\n"
            "{% if customer_page %}Päivä on hyvä.{% endif %}\n",
            {"customer": {"name": "Äänekosken Sähkö Oy"}, "main_user": {"name": "Päivi Mäkelä"}},
        ),
    ],
    ids=["swedish-page-on-its-own-line", "norwegian-inline-link", "finnish-inline-page"],
)
def test_the_html_part_says_what_the_text_part_says(
    language: str, body: str, context: dict[str, object]
) -> None:
    """Every word of the text part appears in the HTML's body in the same order; the only
    other words are the footer's and the page button's label."""
    look = LOOK.model_copy(update={"language": language})
    plain, html = parts(sent(mail_input(body_template=body, context=context, look=look)))
    extra = leftover(plain.split(), html_words(html))
    allowed = set(str(LOOK.footer).split()) | set(button_label(language).split())
    assert set(extra) <= allowed, extra


def test_the_css_is_inlined_with_the_pipelines_colours_and_no_style_element_is_left() -> None:
    """No <style> survives; the top bar carries the colour, the footer box the accent, the
    document the mail's language, and the logo its alt text."""
    _, html = parts(sent(mail_input()))
    assert "<style" not in html.lower()
    assert '<html lang="sv"' in html
    bar = re.search(r'<td class="bar" style="([^"]*)"', html)
    footer = re.search(r'<td class="footer" style="([^"]*)"', html)
    assert bar is not None
    assert footer is not None
    assert "background-color: #00594f" in bar.group(1)
    assert "background-color: #eef6f4" in footer.group(1)
    assert re.search(r'<img src="https://assist\.example/static/assist-logo\.png" alt="Assist"', html)


def test_the_customer_page_on_its_own_line_is_a_button_in_the_colour_and_other_urls_are_links() -> None:
    """The page's line becomes a coloured button (with the URL under it); a URL in a sentence
    becomes a link without the full stop after it."""
    _, html = parts(sent(mail_input()))
    button = re.search(r'<td class="button-cell" style="([^"]*)"><a class="button-link" href="([^"]+)"', html)
    assert button is not None
    assert "background-color: #00594f" in button.group(1)
    assert button.group(2) == PAGE
    assert re.search(r'<a href="https://digital\.assist\.example/logga-in" style="[^"]*">[^<]+</a>\.', html)


def test_without_a_look_the_default_look_is_used_and_nothing_is_missing() -> None:
    """A mail from a run started before HTML mail (no look) gets the default colours, no logo
    and no footer, in English."""
    _, html = parts(sent(mail_input(look=None), customer_page=None))
    defaults = MailLook()
    assert f"background-color: {defaults.colour}" in html
    assert '<html lang="en"' in html
    assert "<img" not in html
    assert 'class="footer"' not in html


def test_a_colour_that_is_not_a_hex_colour_never_reaches_the_css() -> None:
    """A look whose colour would smuggle CSS in falls back to the default colour."""
    look = LOOK.model_copy(update={"colour": "red;background:url(https://evil.example/x)"})
    _, html = parts(sent(mail_input(look=look)))
    assert "evil.example" not in html
    assert f"background-color: {MailLook().colour}" in html


def test_non_ascii_survives_in_subject_text_and_html() -> None:
    """å, ä, ö, ø and Finnish ä come through both parts and the RFC 2047 subject unchanged."""
    context = {"customer": {"name": "Ærø Åkeri & Kesäkahvila Oy"}, "main_user": {"name": "Jørgen Väänänen"}}
    message = sent(mail_input(context=context))
    plain, html = parts(message)
    assert str(message["Subject"]) == "Välkommen, Ærø Åkeri & Kesäkahvila Oy!"
    for word in ("Jørgen", "Väänänen", "Ærø", "Åkeri", "Kesäkahvila", "välkommen"):
        assert word in plain
        assert word in html_words(html) or f"{word}," in html_words(html)
    assert "Ærø Åkeri &amp; Kesäkahvila Oy" in html


def test_markup_in_a_customer_name_is_escaped_in_the_html_and_left_as_is_in_the_text() -> None:
    """A customer called <script>… is text in the HTML, never an element; the text part keeps it."""
    context = {"customer": {"name": '<script>alert("x")</script> & <b>Co</b>'}, "main_user": {"name": "Ö"}}
    plain, html = parts(sent(mail_input(context=context)))
    assert '<script>alert("x")</script> & <b>Co</b>' in plain
    assert "<script" not in html.lower()
    assert "<b>" not in html
    assert "&lt;script&gt;" in html
    assert '<script>alert("x")</script>' in " ".join(html_words(html))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("one\ntwo", "<p>one<br>\ntwo</p>"),
        ("one\n\n \ntwo", "<p>one</p>\n<p>two</p>"),
        ("see https://a.example/x?y=1&z=2.", '<p>see <a href="https://a.example/x?y=1&amp;z=2">'),
        ("(https://a.example/x)", '<p>(<a href="https://a.example/x">https://a.example/x</a>)</p>'),
        ("ftp://a.example/x javascript:alert(1)", "<p>ftp://a.example/x javascript:alert(1)</p>"),
    ],
    ids=["line-break", "paragraphs", "query-escaped-dot-left-out", "parentheses", "only-http-links"],
)
def test_body_html_turns_paragraphs_lines_and_urls_into_html(text: str, expected: str) -> None:
    """Blank lines separate paragraphs, single newlines become <br>, and only http(s) URLs links."""
    assert expected in str(body_html(text))


def invitation(method: str, with_method: bool = True) -> str:
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//Kickoff//test//EN")
    calendar.add("version", "2.0")
    if with_method:
        calendar.add("method", method)
    event = icalendar.Event()
    event.add("uid", "booking-1@kickoff.test")
    event.add("summary", "Uppstartsmöte med Assist – Åre Hälsa")
    event.add("dtstart", datetime(2031, 10, 6, 7, tzinfo=UTC))
    event.add("dtend", datetime(2031, 10, 6, 7, 30, tzinfo=UTC))
    event.add("dtstamp", datetime(2031, 10, 1, tzinfo=UTC))
    calendar.add_component(event)
    return calendar.to_ical().decode().replace("\r\n", "\n")  # the activity restores CRLF


@pytest.mark.parametrize("method", ["REQUEST", "CANCEL"])
@pytest.mark.parametrize("with_method", [True, False], ids=["method-in-ics", "method-added"])
def test_an_invitation_is_an_imip_part_after_the_html_and_an_ics_attachment(
    method: str, with_method: bool
) -> None:
    """With a calendar the alternative gains text/calendar with the method (RFC 6047) after the
    HTML, and the same object is attached as invite.ics; both carry CRLF lines and that METHOD."""
    invite = CalendarInvite(method=method, ics=invitation(method, with_method))
    message = sent(mail_input(calendar=invite))
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = list(message.iter_parts())
    assert alternative.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in alternative.iter_parts()]
    assert kinds == ["text/plain", "text/html", "text/calendar"]
    imip = list(alternative.iter_parts())[2]
    assert (imip.get_param("method"), imip.get_content_charset()) == (method, "utf-8")
    assert attachment.get_content_type() == "application/ics"
    assert attachment.get_filename() == "invite.ics"
    for part in (imip, attachment):
        ics = part.get_payload(decode=True)
        assert isinstance(ics, bytes)
        assert b"\r\n" in ics
        assert b"\n" not in ics.replace(b"\r\n", b"")
        parsed = icalendar.Calendar.from_ical(ics)
        assert str(parsed["METHOD"]) == method
        [event] = parsed.walk("VEVENT")
        assert str(event["SUMMARY"]) == "Uppstartsmöte med Assist – Åre Hälsa"


@pytest.mark.parametrize(
    ("method", "ics"),
    [("CANCEL", invitation("REQUEST")), ("REQUEST", "BEGIN:VCALENDAR\nSUMMARY Örjan\n")],
    ids=["method-contradicts", "not-icalendar"],
)
def test_an_invitation_that_is_wrong_is_refused_without_quoting_it(method: str, ics: str) -> None:
    """An invitation whose METHOD contradicts the mail's, or that does not parse, is refused, and
    the reason quotes none of its content."""
    invite = CalendarInvite(method=method, ics=ics)
    with pytest.raises(InvalidInvitationError) as refused:
        render_message(mail_input(calendar=invite), MAIL_FROM)
    assert "Örjan" not in str(refused.value)
    assert "Åre" not in str(refused.value)


def test_describe_mail_gives_the_mail_the_pipelines_look_in_its_language() -> None:
    """The look is the pipeline's branding, with the footer in the mail's language (else the
    default language's); a team notification gets the same look in the default language."""
    run = start("assist-se", local(STOCKHOLM, date(2031, 9, 24), 10))
    branding = Branding(
        colour="#00594F",
        accent="#eef6f4",
        logo="https://assist.example/logo.png",
        logo_alt="Assist",
        footer={"sv": "Hälsningar från Assist", "en": "Regards"},
    )
    pipeline = run.pipeline.model_copy(update={"branding": branding})
    now = local(STOCKHOLM, date(2031, 10, 2), 8)
    welcome = Work(Action(mail=MailSpec(template="welcome")), ("onboarding", 1), "w", now)
    notify = Work(Action(notify=NotifySpec(subject="Ny", text="Ny kund")), ("onboarding", 1), "n", now)
    expected = MailLook(
        language="sv",
        colour="#00594f",
        accent="#eef6f4",
        logo="https://assist.example/logo.png",
        logo_alt="Assist",
        footer="Hälsningar från Assist",
    )
    assert describe_mail(run.state, pipeline, welcome).input.look == expected
    assert describe_mail(run.state, pipeline, notify).input.look == expected
