"""The board's redirect targets, checked without a server: only paths inside the board.

(Sessions are server-side now: tests/store/test_identity_store.py.)"""

from __future__ import annotations

import pytest

from kickoff.board import auth


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/board/tasks?owner_role=staff", "/board/tasks?owner_role=staff"),
        ("/board/onboardings/SE-C-1", "/board/onboardings/SE-C-1"),
        ("https://evil.example/board", "/board"),
        ("//evil.example/board", "/board"),
        ("/\\evil.example", "/board"),
        ("/docs", "/board"),
        ("/board\r\nSet-Cookie: x=1", "/board"),
        (None, "/board"),
    ],
)
def test_next_after_sign_in_stays_on_the_board(target: str | None, expected: str) -> None:
    """A crafted ``next`` cannot send a freshly signed-in user to another site."""
    assert auth.safe_next(target) == expected
