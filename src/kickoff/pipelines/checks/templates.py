"""Mail templates: one version per offered language, and only the variables a mail is given."""

from __future__ import annotations

import jinja2
import jinja2.meta

from kickoff.pipelines.checks.context import Context, Loc, Problems, language_ref

TEMPLATE_VARIABLES = frozenset(
    {
        "onboarding_id",
        "customer",
        "main_user",
        "links",
        "pipeline",
        "team",
        "meeting_at",
        "event",
        "stage",
        "modules",
        "dates",
        "customer_page",
        "booking",
    }
)
"""What a mail template may use; anything else is refused at load time. ``customer_page`` is
the customer's personal page (None in a mail to the team); ``booking`` is what the booking
mails get: ``{title, starts, ends, location, status}``."""


def template_vars(ctx: Context, loc: Loc, source: str) -> Problems:
    """A template must parse and use only ``TEMPLATE_VARIABLES``; ``customer_page`` only in a
    pipeline that has a customer page."""
    try:
        used = jinja2.meta.find_undeclared_variables(ctx.env.parse(source))
    except jinja2.TemplateSyntaxError as exc:
        yield loc, f"template syntax error: {exc.message}"
        return
    unknown = used - TEMPLATE_VARIABLES
    if unknown:
        yield (
            loc,
            f"unknown variable(s) {sorted(unknown)}; templates may use {sorted(TEMPLATE_VARIABLES)}",
        )
    if "customer_page" in used and ctx.pipeline.customer_page is None:
        yield (
            loc,
            "uses customer_page, but the pipeline has no customer page: declare a customer_page "
            "section, or leave the link out of the template",
        )


def check_templates(ctx: Context) -> Problems:
    """Each template has a version in every offered language, and no version in another."""
    p = ctx.pipeline
    for name, versions in p.templates.items():
        tloc = ctx.loc("templates", name)
        for language in p.languages:
            if language not in versions:
                yield (
                    tloc,
                    f"template {name!r} has no {language!r} version "
                    f"(the pipeline offers {list(p.languages)})",
                )
        for language, template in versions.items():
            yield from language_ref(ctx, (*tloc, language), language)
            for part in ("subject", "body"):
                yield from template_vars(ctx, (*tloc, language, part), getattr(template, part))
