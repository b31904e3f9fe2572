"""Compact on the wire: how models that travel in every run's input are written for Temporal.

A run's start input carries its contract and its whole pipeline snapshot, in
which every default of every action used to be written out (``"mail": null,
"when": null, "to": "main_user", ...``). Written for Temporal (the converter
passes ``WIRE_CONTEXT``), these models leave out every field that holds its
default: they decode to equal models. Everywhere else (``model_dump``, the API,
``pipeline_version``'s hash) they are written in full, as before.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, SerializationInfo, SerializerFunctionWrapHandler, model_serializer

WIRE = "kickoff_wire"
WIRE_CONTEXT = {WIRE: True}


def on_the_wire(info: SerializationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and bool(context.get(WIRE))


class CompactOnTheWire(BaseModel):
    _wire_keeps: ClassVar[frozenset[str]] = frozenset()
    """Fields written even when they hold their default, because whether they were set
    means something (an event's ``payload``: a snapshot older than payload declarations
    has none, and its events take the shorthand routes' fields)."""

    @model_serializer(mode="wrap")
    def _compact_on_the_wire(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if not on_the_wire(info) or not isinstance(data, dict):
            return data
        fields = type(self).model_fields
        dropped = set()
        for name, spec in fields.items():
            if name in self._wire_keeps and name in self.model_fields_set:
                continue
            if name not in self.model_fields_set or (
                not spec.is_required() and getattr(self, name) == spec.get_default(call_default_factory=True)
            ):
                dropped.add((spec.serialization_alias or spec.alias or name) if info.by_alias else name)
        return {key: value for key, value in data.items() if key not in dropped}
