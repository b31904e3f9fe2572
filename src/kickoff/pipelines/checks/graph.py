"""The stage graph: no chain of instant moves loops, and every stage can be reached."""

from __future__ import annotations

from kickoff.pipelines.checks.context import Context, Problems


def check_instant_loops(ctx: Context) -> Problems:
    """No stage moves on at once, through stages that also move on at once, back to itself."""
    for index, stage in enumerate(ctx.pipeline.stages):
        loop = _instant_loop(ctx, stage.id)
        if loop:
            yield (
                ctx.loc("stages", index, "id"),
                f"stage {stage.id!r} moves on at once in a loop ({' -> '.join(loop)}): "
                "a run would never rest",
            )


def check_reachable(ctx: Context) -> Problems:
    """Every stage is reached from the start or restart stage by some move or event."""
    reachable = _reachable(ctx)
    for index, stage in enumerate(ctx.pipeline.stages):
        if stage.id not in reachable:
            yield (
                ctx.loc("stages", index, "id"),
                f"stage {stage.id!r} is unreachable: no move or event leads to it",
            )


def _reachable(ctx: Context) -> set[str]:
    """Stages some chain of moves and events leads to from the start or restart stage."""
    p = ctx.pipeline
    edges: dict[str, set[str]] = {sid: set() for sid in ctx.stage_ids}
    for stage in p.stages:
        actions = [*stage.on_enter, *(a for step in stage.schedule for a in step.do)]
        edges[stage.id].update(a.move for a in actions if a.move)
    for deadline in p.deadlines:
        for source in deadline.in_stages:
            edges.setdefault(source, set()).update(a.move for a in deadline.do if a.move)
    for event in p.events.values():
        targets = {event.to} if event.to else set()
        targets.update(action.move for action in event.do if action.move)
        for source in p.event_allowed_in(event):
            edges.setdefault(source, set()).update(targets)
    todo = [p.start_stage, p.restart.stage]
    seen: set[str] = set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(edges.get(current, ()))
    return seen


def _instant_moves(ctx: Context, stage_id: str) -> set[str]:
    """Stages a run moves to the moment it enters ``stage_id`` (no time passes)."""
    stage = ctx.pipeline.stage(stage_id)
    moves = {a.move for a in stage.on_enter if a.move}
    for step in stage.schedule:
        at_entry = any(name in ("entered", f"entered:{stage_id}") for name in step.at.anchor_names())
        if at_entry and step.at.days == 0 and step.at.time is None:
            moves.update(a.move for a in step.do if a.move)
    return {m for m in moves if m in ctx.known_stages}


def _instant_loop(ctx: Context, start: str) -> list[str] | None:
    """A chain of instant moves from ``start`` back to it, if one exists."""
    paths = [[start]]
    while paths:
        path = paths.pop()
        for nxt in sorted(_instant_moves(ctx, path[-1])):
            if nxt == start:
                return [*path, nxt]
            if nxt not in path:
                paths.append([*path, nxt])
    return None
