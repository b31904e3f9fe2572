"""How Kickoff's values cross into Temporal: pydantic JSON, with the wire context set.

Models that travel in every run's input (the pipeline snapshot, the contract) are
written compactly in that context (``kickoff.wire``): two thirds of the size, and
they decode to equal models. Payloads the older converter wrote decode the same.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import temporalio.api.common.v1
from pydantic_core import to_json
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)

from kickoff.crypto import DataKeys, EnvelopeCodec
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
"""Kickoff's payload converter without encryption: for replaying recorded histories and reading
payloads written before encryption; every client uses ``encrypted``."""


def encrypted(keys: DataKeys) -> DataConverter:
    """The data converter with every payload encrypted (``kickoff.crypto``): what the API, the
    workers and the tests' servers use; ``keys`` holds the master keys and the data keys."""
    # Failure messages and stack traces go into an (encrypted) payload too: a mail's SMTP error,
    # say, may quote an address, and Temporal stores failures for the namespace's retention.
    return dataclasses.replace(
        data_converter,
        payload_codec=EnvelopeCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
