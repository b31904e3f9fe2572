"""Checklists and modules: what refers to them names declared ones, and their own parts are sound."""

from __future__ import annotations

from collections.abc import Sequence

from kickoff.pipelines.checks.context import Context, Loc, Problems, language_ref


def module_refs(ctx: Context, loc: Loc, modules: Sequence[str] | None) -> Problems:
    """Whatever is limited to modules names declared ones."""
    for module in modules or ():
        if module not in ctx.pipeline.modules:
            known = ", ".join(ctx.pipeline.modules) or "none declared"
            yield loc, f"unknown module {module!r} (modules: {known})"


def checklist_refs(ctx: Context, loc: Loc, refs: Sequence[str]) -> Problems:
    """Whatever names checklists names declared ones."""
    for ref in refs:
        if ref not in ctx.pipeline.checklists:
            known = ", ".join(ctx.pipeline.checklists) or "none"
            yield loc, f"unknown checklist {ref!r} (checklists: {known})"


def check_module_labels(ctx: Context) -> Problems:
    """A module's translated labels are in languages the pipeline offers."""
    for module_id, module in ctx.pipeline.modules.items():
        for language in module.labels:
            yield from language_ref(ctx, ctx.loc("modules", module_id, "labels", language), language)


def check_checklist_items(ctx: Context) -> Problems:
    """Item ids are unique across the pipeline (staff tick an item by id alone); their modules exist."""
    item_ids: set[str] = set()
    for cid, checklist in ctx.pipeline.checklists.items():
        for index, item in enumerate(checklist.items):
            iloc = ctx.loc("checklists", cid, "items", index)
            if item.id in item_ids:
                yield (*iloc, "id"), f"checklist item id {item.id!r} is used twice in this pipeline"
            item_ids.add(item.id)
            yield from module_refs(ctx, (*iloc, "modules"), item.modules)
