"""Placeholder: filled in by issue 14's board preview page."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
