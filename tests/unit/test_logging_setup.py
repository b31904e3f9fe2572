"""uvicorn's own loggers come out as JSON lines too (start-up, tracebacks of failed requests)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from kickoff.logging_setup import configure_logging


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    uvicorn = logging.getLogger("uvicorn.error")
    saved_uvicorn = uvicorn.handlers[:], uvicorn.propagate
    yield
    root.handlers[:], _ = saved
    root.setLevel(saved[1])
    uvicorn.handlers[:], uvicorn.propagate = saved_uvicorn


def test_uvicorn_lines_are_json_even_after_uvicorn_gave_its_logger_a_handler(restore_logging):
    uvicorn = logging.getLogger("uvicorn.error")
    plain = io.StringIO()
    uvicorn.addHandler(logging.StreamHandler(plain))  # what uvicorn's own dictConfig does
    uvicorn.propagate = False
    captured = io.StringIO()

    configure_logging(json=True, stream=captured)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        uvicorn.exception("Exception in ASGI application")

    [line] = captured.getvalue().splitlines()
    record = json.loads(line)
    assert (record["event"], record["logger"], record["level"]) == (
        "Exception in ASGI application",
        "uvicorn.error",
        "error",
    )
    assert "RuntimeError: boom" in record["exception"]
    assert plain.getvalue() == ""
