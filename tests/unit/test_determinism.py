"""The workflow's code is deterministic by construction: checked here, since the worker passes
Kickoff's modules through the sandbox (which then no longer refuses such calls at run time)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "kickoff"
WORKFLOW_CODE = sorted(
    [
        *(SRC / "engine").glob("*.py"),
        *(SRC / "workflows").glob("*.py"),
        *(SRC / name for name in ("schedule.py", "domain.py", "wire.py", "search_attributes.py")),
        *(SRC / "pipelines" / name for name in ("model.py", "actions.py", "payload.py")),
    ]
)
"""Every module the workflow's code runs: the shell, the core, and what they use in the run."""
ENGINE = sorted((SRC / "engine").glob("*.py"))

FORBIDDEN_MODULES = {
    "random",
    "secrets",
    "uuid",
    "time",
    "os",
    "socket",
    "subprocess",
    "threading",
    "sqlite3",
}
FORBIDDEN_CALLS = {
    *(("datetime", name) for name in ("now", "utcnow", "today")),
    ("date", "today"),
    *(("time", name) for name in ("time", "monotonic", "perf_counter", "sleep", "time_ns")),
    ("asyncio", "sleep"),
    ("os", "urandom"),
    ("", "open"),
}
"""Calls that read a clock, draw randomness, wait in real time or do I/O (Temporal's own
``workflow.now()`` and ``workflow.sleep()`` are the deterministic replacements)."""


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def _calls(tree: ast.AST) -> set[tuple[str, str]]:
    """(receiver, name) of every call: ``datetime.now()`` is ("datetime", "now")."""
    found: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                receiver = func.value.id if isinstance(func.value, ast.Name) else ast.unparse(func.value)
                found.add((receiver, func.attr))
            elif isinstance(func, ast.Name):
                found.add(("", func.id))
    return found


@pytest.mark.parametrize("path", WORKFLOW_CODE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_workflow_code_reads_no_clock_draws_no_randomness_and_does_no_io(path: Path) -> None:
    """No module the workflow runs imports a clock, randomness or I/O module, or calls
    datetime.now(), date.today(), time.time(), asyncio.sleep() or open()."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert _imports(tree) & FORBIDDEN_MODULES == set()
    bad = _calls(tree) & FORBIDDEN_CALLS
    assert bad == set(), f"{path.name}: {sorted(bad)}"


@pytest.mark.parametrize("path", ENGINE, ids=lambda p: p.name)
def test_the_core_imports_nothing_from_temporal(path: Path) -> None:
    """kickoff.engine is the pure core: it takes the clock as an argument, never temporalio."""
    assert "temporalio" not in _imports(ast.parse(path.read_text(encoding="utf-8")))


def test_the_checks_would_catch_a_clock_call() -> None:
    """The guard itself: a module calling datetime.now() or random is caught."""
    tree = ast.parse("import random\nfrom datetime import datetime\nx = datetime.now()\n")
    assert "random" in _imports(tree) & FORBIDDEN_MODULES
    assert ("datetime", "now") in _calls(tree)
