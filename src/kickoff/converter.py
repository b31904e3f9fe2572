"""How Kickoff's values cross into Temporal: pydantic JSON, with the wire context set.

Models that travel in every run's input (the pipeline snapshot, the contract) are
written compactly in that context (``kickoff.wire``): two thirds of the size, and
they decode to equal models. Payloads the older converter wrote decode the same.
"""

from __future__ import annotations

from typing import Any

import temporalio.api.common.v1
from pydantic_core import to_json
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

from kickoff.wire import WIRE_CONTEXT


class _WireJSON(PydanticJSONPlainPayloadConverter):
    def to_payload(self, value: Any) -> temporalio.api.common.v1.Payload | None:
        return temporalio.api.common.v1.Payload(
            metadata={"encoding": self.encoding.encode()}, data=to_json(value, context=WIRE_CONTEXT)
        )


class KickoffPayloadConverter(CompositePayloadConverter):
    def __init__(self) -> None:
        json = _WireJSON()
        super().__init__(
            *(
                json if isinstance(c, JSONPlainPayloadConverter) else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


data_converter = DataConverter(payload_converter_class=KickoffPayloadConverter)
"""The data converter of every Kickoff client and worker (and of the tests' servers)."""
