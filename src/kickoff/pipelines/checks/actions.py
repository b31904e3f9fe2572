"""Actions: what each kind of action refers to exists, and the modules it is limited to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import assert_never

from kickoff.pipelines.checks.checklists import module_refs
from kickoff.pipelines.checks.context import Context, Loc, Problems, anchor_ref, language_ref, stage_ref
from kickoff.pipelines.checks.templates import template_vars
from kickoff.pipelines.model import Action, MailSpec, TaskSpec


def check_actions(ctx: Context, loc: Loc, actions: Sequence[Action]) -> Problems:
    """Every action of a list (``on_enter``, a step's or an event's ``do``)."""
    for index, action in enumerate(actions):
        yield from check_action(ctx, (*loc, index), action)


def check_action(ctx: Context, loc: Loc, action: Action) -> Problems:
    """One action: what its kind refers to, and the modules it is limited to."""
    own = _check_kind(ctx, loc, action)
    modules = module_refs(ctx, (*loc, "modules"), action.modules)
    # The order problems have always been reported in: a move's before its modules', any other kind's after.
    first, then = (own, modules) if action.kind == "move" else (modules, own)
    yield from first
    yield from then


def _check_kind(ctx: Context, loc: Loc, action: Action) -> Problems:
    """What the action's kind refers to; a ``match`` so strict mypy names a kind left out here."""
    kind = action.kind
    match kind:
        case "mail":
            assert action.mail is not None
            yield from _check_mail(ctx, (*loc, "mail"), action.mail)
        case "task":
            assert action.task is not None
            yield from check_task(ctx, (*loc, "task"), action.task)
        case "note":
            assert action.note is not None
            if action.note.for_role:
                yield from _role_ref(ctx, (*loc, "note", "for"), action.note.for_role)
        case "notify":
            assert action.notify is not None
            yield from template_vars(ctx, (*loc, "notify", "subject"), action.notify.subject)
            yield from template_vars(ctx, (*loc, "notify", "text"), action.notify.text)
        case "move":
            assert action.move is not None
            yield from _check_move(ctx, (*loc, "move"), action.move)
        case _:
            assert_never(kind)


def _check_mail(ctx: Context, loc: Loc, mail: MailSpec) -> Problems:
    """A mail uses a declared template, in a language the pipeline offers."""
    if mail.template not in ctx.pipeline.templates:
        known = ", ".join(ctx.pipeline.templates) or "none"
        yield (*loc, "template"), f"unknown template {mail.template!r} (templates: {known})"
    if mail.language:
        yield from language_ref(ctx, (*loc, "language"), mail.language)


def _check_move(ctx: Context, loc: Loc, target: str) -> Problems:
    """A move goes to a known stage, and not into one whose checklist it would bypass."""
    yield from stage_ref(ctx, loc, target, "move")
    if target in ctx.gated:
        yield (
            loc,
            f"a move into {target!r} would bypass the checklist it requires: let an event move the run there",
        )


def check_task(ctx: Context, loc: Loc, task: TaskSpec) -> Problems:
    """A task's role is declared, and its due date counts from a known anchor."""
    if task.owner_role:
        yield from _role_ref(ctx, (*loc, "owner_role"), task.owner_role)
    if task.due.anchor:
        yield from anchor_ref(ctx, (*loc, "due", "anchor"), task.due.anchor)


def _role_ref(ctx: Context, loc: Loc, role: str) -> Problems:
    """A role a task or note is for is one the pipeline declares."""
    if role not in ctx.pipeline.roles:
        yield loc, f"unknown role {role!r}"
