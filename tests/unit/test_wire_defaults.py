"""The defaults of models written compactly on the wire are pinned.

A run's recorded start input leaves out every field that held its default when it was
written (``kickoff.wire``). If a later release changed such a default, replaying an old
run would read the new value where the run had the old one: its plan could change under
it. So changing one of these defaults must be a decision, not an accident: this test
fails until ``wire_defaults.json`` is updated (``python -m tests.unit.test_wire_defaults``),
and the change then needs a way to keep old snapshots' value (e.g. a new field instead).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kickoff.api.schemas  # ContractIn (POST /contracts) is a Contract, so it is compact too
import kickoff.domain
import kickoff.pipelines.model
from kickoff.wire import CompactOnTheWire

PINNED = Path(__file__).with_name("wire_defaults.json")


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    subs: list[type] = list(cls.__subclasses__())
    for sub in subs:
        found += [sub, *_subclasses(sub)]
    return found


def current_defaults() -> dict[str, dict[str, Any]]:
    """``{model: {field: default}}`` of every compact model, defaults as JSON-ish text."""
    assert kickoff.domain  # imported for its models
    assert kickoff.api.schemas
    result: dict[str, dict[str, Any]] = {}
    for model in sorted(set(_subclasses(CompactOnTheWire)), key=lambda m: f"{m.__module__}.{m.__qualname__}"):
        if not model.__module__.startswith("kickoff."):
            continue
        fields = getattr(model, "model_fields", {})
        result[model.__qualname__] = {
            name: repr(spec.get_default(call_default_factory=True))
            for name, spec in fields.items()
            if not spec.is_required()
        }
    return result


def test_the_defaults_of_wire_compact_models_are_the_pinned_ones() -> None:
    """Every default of a compactly written model is what wire_defaults.json pins."""
    assert current_defaults() == json.loads(PINNED.read_text(encoding="utf-8"))


if __name__ == "__main__":
    PINNED.write_text(json.dumps(current_defaults(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"pinned {PINNED.name}")
