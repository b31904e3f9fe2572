"""``kickoff-validate [FILE]``: check an edited pipelines.yaml before anything runs it."""

from __future__ import annotations

import sys
from pathlib import Path

from kickoff.pipelines.loader import PipelineError, load_pipelines


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path("pipelines.yaml")
    try:
        catalog = load_pipelines(path)
    except PipelineError as exc:
        print(exc, file=sys.stderr)
        return 1
    for pid, pipeline in catalog.pipelines.items():
        print(f"ok  {pid}  version {catalog.version(pid)}  ({len(pipeline.stages)} stages)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
