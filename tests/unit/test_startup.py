"""The worker and API processes refuse to start on an invalid pipelines.yaml, naming the place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kickoff.mailcatcher import free_port
from tests.support import PIPELINES_FILE

PROCESSES = {
    "worker": [sys.executable, "-m", "kickoff.worker"],
    "api": [sys.executable, "-m", "uvicorn", "--factory", "kickoff.api:app_from_env", "--port", "0"],
}


@pytest.mark.parametrize("process", sorted(PROCESSES))
def test_a_process_refuses_a_broken_pipelines_file_before_serving(process: str, tmp_path: Path) -> None:
    """A move to an unknown stage stops the process with the file, line, pipeline and stage."""
    broken = tmp_path / "pipelines.yaml"
    text = PIPELINES_FILE.read_text(encoding="utf-8").replace("move: follow_up", "move: folow_up")
    broken.write_text(text, encoding="utf-8")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "folow_up" in row)
    env = {
        **os.environ,
        "KICKOFF_PIPELINES_FILE": str(broken),
        "KICKOFF_DATA_DIR": str(tmp_path),
        # Nothing listens here: the file must be refused before any connection is tried.
        "KICKOFF_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
    }
    result = subprocess.run(
        PROCESSES[process], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert f"{broken}:{line}, pipeline 'assist-se', stage 'onboarding'" in result.stderr
    assert "unknown stage 'folow_up'" in result.stderr
