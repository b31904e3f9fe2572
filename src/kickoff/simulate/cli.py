"""``kickoff-simulate PIPELINE --contract FILE --from DATE [--events FILE] [--until DATE] [--json]``.

Prints what the pipeline would do for the contract (the JSON the contract-signing system posts
to ``/contracts``), arriving at ``--from``, with the events file's actions (a YAML or JSON list
of ``{at, event, payload}``, ``{at, tick: item}``, ``{at, done: task kind}``, …) acted out, up
to ``--until`` (default: 120 days on). An unknown pipeline, a bad contract, event or date is
named on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from kickoff.pipelines import PipelineError, load_pipelines
from kickoff.simulate.render import render
from kickoff.simulate.script import WHEN_FORMAT, ScriptError, load_script, parse_when
from kickoff.simulate.simulator import InvalidInputError, SimulationError, preview

USAGE_ERROR = 2


class CliError(Exception):
    """Something to say on stderr before exiting with status 2."""


def _when(text: str) -> date:
    try:
        return parse_when(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {WHEN_FORMAT}") from None


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog="kickoff-simulate",
        description="Preview a pipeline: what its run does for a contract, and when, on a simulated clock.",
    )
    parse.add_argument("pipeline", metavar="PIPELINE", help="the pipeline's id, e.g. assist-se")
    parse.add_argument(
        "--contract",
        required=True,
        type=Path,
        metavar="FILE",
        help="the contract as JSON (as POST /contracts takes it)",
    )
    parse.add_argument(
        "--from",
        dest="start",
        type=_when,
        metavar="DATE",
        help="when the contract arrives (a date means 09:00 local time; default: its signed_at)",
    )
    parse.add_argument(
        "--events", type=Path, metavar="FILE", help="what staff do when: a YAML or JSON list of actions"
    )
    parse.add_argument(
        "--until",
        type=_when,
        metavar="DATE",
        help="the preview's end (a date includes that day; default: 120 days on)",
    )
    parse.add_argument("--json", action="store_true", help="print the plan as JSON (the API's answer)")
    parse.add_argument(
        "--pipelines",
        type=Path,
        default=Path(os.environ.get("KICKOFF_PIPELINES_FILE", "pipelines.yaml")),
        metavar="FILE",
        help="the pipelines file (default: $KICKOFF_PIPELINES_FILE or pipelines.yaml)",
    )
    return parse


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise CliError(f"{what} {path}: {reason}") from None


def _contract(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(_read(path, "contract"))
    except json.JSONDecodeError as exc:
        raise CliError(f"contract {path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(document, dict):
        raise CliError(f"contract {path}: must be a JSON object, as POST /contracts takes it")
    return document


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        try:
            catalog = load_pipelines(args.pipelines)
        except PipelineError as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"pipelines {args.pipelines}: {exc.strerror or exc}") from None
        contract = _contract(args.contract)
        script: list[Any] = []
        if args.events is not None:
            try:
                script = load_script(_read(args.events, "events"))
            except ScriptError as exc:
                raise CliError(f"events {args.events}: {exc}") from None
        try:
            simulation = preview(
                catalog, args.pipeline, contract, start=args.start, script=script, until=args.until
            )
        except InvalidInputError as exc:
            listed = "".join(f"\n  - {problem}" for problem in exc.problems)
            raise CliError(f"cannot preview {args.pipeline}:{listed}") from None
        except SimulationError as exc:
            raise CliError(str(exc)) from None
    except CliError as exc:
        print(f"kickoff-simulate: {exc}", file=sys.stderr)
        return USAGE_ERROR
    sys.stdout.write(simulation.model_dump_json(indent=2) + "\n" if args.json else render(simulation))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
