"""Workflows: orchestration only, no I/O."""
