"""Placeholder: ``kickoff-simulate`` (issue 14)."""

from __future__ import annotations


def main() -> None:
    raise SystemExit("kickoff-simulate is not built yet")
