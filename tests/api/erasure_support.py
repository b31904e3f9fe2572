"""What the erasure and access tests share: a contract full of personal data, and how to look for it."""

from __future__ import annotations

import json
from typing import Any

import httpx
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload

from tests.api.conftest import PAST_DELIVERY, Kickoff
from tests.support import contract_payload

CUSTOMER = "Åre Hälsa & Söner AB"
ORG_NUMBER = "556677-8899"
MAIN_USER = "Örjan Ängström"
EMAIL = "orjan@are-halsa.example"
PHONE = "+46 70 123 45 67"
ADVISOR = "Sara Lind"
NOTE = "Röstbrevlåda, ring Örjan igen"
PERSONAL = (CUSTOMER, ORG_NUMBER, MAIN_USER, EMAIL, PHONE, ADVISOR, "Örjan", "Ängström", "orjan@")
"""Every personal value the tests' onboardings hold, and telling parts of them."""
REQUEST_REASON = "personal data erased on request (GDPR art. 17)"


PERSONAL_FIELDS: dict[str, Any] = {
    "customer": {"name": CUSTOMER, "org_number": ORG_NUMBER},
    "main_user": {"name": MAIN_USER, "email": EMAIL, "phone": PHONE},
}
"""A contract's fields whose customer, org number and main user (with a phone) are known."""


def personal_contract(**overrides: Any) -> dict[str, Any]:
    """The whole contract ``Kickoff.start`` sends with ``PERSONAL_FIELDS`` (a month-old delivery)."""
    return contract_payload(**{"delivery_start": PAST_DELIVERY, **PERSONAL_FIELDS, **overrides})


def personal_values_in(text: str) -> list[str]:
    """The personal values found in ``text`` (a body as sent, or as JSON with escapes undone)."""
    return [value for value in PERSONAL if value in text]


def body_text(response: httpx.Response) -> str:
    """An answer's body both as sent and as JSON decoded, so an escaped value is found too."""
    try:
        decoded = json.dumps(response.json(), ensure_ascii=False)
    except ValueError:
        decoded = ""
    return response.text + "\n" + decoded


async def erase(kickoff: Kickoff, oid: str, **params: str) -> httpx.Response:
    return await kickoff.http.delete(
        f"/onboardings/{oid}/personal-data", params=params, headers=kickoff.api.auth
    )


def payloads_in(message: Message) -> list[Payload]:
    """Every Payload anywhere inside a protobuf message (a history event's inputs, results,
    failures, memos, headers, search attributes)."""
    found: list[Payload] = []
    for field, value in message.ListFields():
        if field.message_type is None:
            continue  # a scalar field
        if isinstance(value, Message):
            values: Any = [value]
        elif field.message_type.GetOptions().map_entry:
            values = value.values()
        else:
            values = value
        for item in values:
            if isinstance(item, Payload):
                found.append(item)
            elif isinstance(item, Message):
                found.extend(payloads_in(item))
    return found
