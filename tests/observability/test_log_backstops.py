"""The logging backstops: values under personal keys are redacted, and a validation error in a
traceback shows where and what, never the input it repeats (tests/api/test_no_personal_data_leaks.py
checks that no line is written with personal data in the first place)."""

from __future__ import annotations

import io
import logging

import structlog
from pydantic import BaseModel, ValidationError, field_validator

from kickoff.logging_setup import configure_logging
from tests.observability.conftest import CapturedLogs

EMAIL = "xaviera.qvist@qvarnback-zelmerska.example"
PHONE = "+46 70 913 52 86"


class _Signup(BaseModel):
    email: str

    @field_validator("email")
    @classmethod
    def _known(cls, value: str) -> str:
        raise ValueError(f"{value} is not a customer of ours")


def _log_a_failed_signup() -> None:
    """Log a traceback whose cause is a validation error repeating the e-mail address, as
    structlog and as uvicorn (a stdlib logger) would."""
    try:
        try:
            _Signup.model_validate({"email": EMAIL})
        except ValidationError as exc:
            raise RuntimeError("signup failed") from exc
    except RuntimeError:
        structlog.get_logger("careless").exception("signup.failed")
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")


def test_a_value_logged_under_a_personal_key_is_redacted(json_logs: CapturedLogs) -> None:
    """A value logged under a key that names personal data (email, phone, body, …) is written as
    "[redacted]"; other keys are kept."""
    structlog.get_logger("careless").warning(
        "contract.received", email=EMAIL, phone=PHONE, body="{}", id="C-1"
    )

    [record] = json_logs.records()
    assert (record["email"], record["phone"], record["body"]) == ("[redacted]",) * 3
    assert record["id"] == "C-1"
    assert EMAIL not in json_logs.lines()[0]


def test_a_validation_error_in_a_json_traceback_shows_fields_and_types_only(json_logs: CapturedLogs) -> None:
    """The "exception" of a JSON line, from structlog or the stdlib, keeps the chain and the frames
    but shows a validation error as its field paths and error types, not its message."""
    _log_a_failed_signup()

    rendered = [record["exception"] for record in json_logs.records()]
    assert len(rendered) == 2
    for text in rendered:
        assert "ValidationError: 1 validation error(s) [values not logged]: email: value_error" in text
        assert "The above exception was the direct cause of the following exception" in text
        assert "RuntimeError: signup failed" in text
        assert "qvarnback" not in text


def test_a_validation_error_in_a_console_traceback_shows_fields_and_types_only(
    json_logs: CapturedLogs,
) -> None:
    """The console renderer (``KICKOFF_LOG_JSON=false``) formats tracebacks the same way."""
    stream = io.StringIO()
    configure_logging(json=False, stream=stream)  # json_logs restores the set-up afterwards

    _log_a_failed_signup()

    text = stream.getvalue()
    assert text.count("validation error(s) [values not logged]: email: value_error") == 2
    assert "qvarnback" not in text
