"""Load ``pipelines.yaml`` into validated ``Pipeline`` models, or say exactly where it is wrong.

Two passes: pydantic checks the shape, then ``kickoff.pipelines.checks`` checks what
the shape cannot (a move to an unknown stage, a template missing a language,
a stage nothing leads to). Every problem carries its YAML path, which is
mapped back to a line through the composed YAML node tree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kickoff.pipelines.checks import Loc, Problems, check_pipeline
from kickoff.pipelines.closed_days import with_closed_days
from kickoff.pipelines.model import Pipeline, PipelineFile

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's parser when PyYAML has it (its wheels do): ten times faster than the Python one."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the file, with the place a process owner must look."""

    source: str
    line: int | None
    pipeline: str | None
    stage: str | None
    path: str
    message: str

    def __str__(self) -> str:
        where = [f"{self.source}:{self.line}" if self.line else self.source]
        if self.pipeline:
            where.append(f"pipeline '{self.pipeline}'")
        if self.stage:
            where.append(f"stage '{self.stage}'")
        if self.path:
            where.append(self.path)
        return f"{', '.join(where)}: {self.message}"


class PipelineError(ValueError):
    """``pipelines.yaml`` is invalid; ``problems`` says where and why."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid pipelines file ({len(self.problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class PipelineCatalog:
    """The validated pipelines with their content-hash versions."""

    pipelines: Mapping[str, Pipeline]
    versions: Mapping[str, str] = field(default_factory=dict)

    def get(self, pipeline_id: str) -> Pipeline | None:
        return self.pipelines.get(pipeline_id)

    def version(self, pipeline_id: str) -> str:
        return self.versions[pipeline_id]


def pipeline_version(pipeline: Pipeline) -> str:
    """A short content hash: equal definitions share it, any edit changes it."""
    canonical = json.dumps(pipeline.model_dump(mode="json", by_alias=True), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def load_pipelines(path: Path) -> PipelineCatalog:
    """Read and validate ``path``; raises ``PipelineError`` naming every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PipelineError([Problem(str(path), None, None, None, "", f"cannot read: {exc}")]) from exc
    return parse_pipelines(text, source=str(path))


def parse_pipelines(text: str, source: str = "pipelines.yaml") -> PipelineCatalog:
    """Validate YAML text (see ``load_pipelines``)."""
    try:
        # One pass: the node tree gives lines for problems, its construction the data.
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            raw = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise PipelineError([Problem(source, line, None, None, "", f"not valid YAML: {exc}")]) from exc

    locate = _Locator(source, raw, root)
    if isinstance(raw, dict) and isinstance(raw.get("pipelines"), dict):
        # The mapping key is the pipeline id; repeating it inside is optional.
        for key, body in raw["pipelines"].items():
            if isinstance(body, dict):
                body.setdefault("id", key)
                # An event declares its payload even when it takes none: only snapshots taken
                # before payload declarations existed lack it (and take the shorthand fields).
                for event in (
                    (body.get("events") or {}).values() if isinstance(body.get("events"), dict) else ()
                ):
                    if isinstance(event, dict):
                        event.setdefault("payload", {})
    try:
        parsed = PipelineFile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [locate(tuple(err["loc"]), err["msg"]) for err in errors]
        # Check the references of the pipelines that are well-formed too, so a
        # quoting slip in one pipeline does not hide what is wrong in another.
        misshapen = {err["loc"][1] for err in errors if len(err["loc"]) > 1 and err["loc"][0] == "pipelines"}
        bodies = raw.get("pipelines") if isinstance(raw, dict) else None
        for pid, body in (bodies or {}).items() if isinstance(bodies, dict) else ():
            if pid in misshapen:
                continue
            try:
                pipeline = Pipeline.model_validate(body)
            except ValidationError:
                continue
            problems.extend(
                locate(loc, message) for loc, message in check_pipeline(("pipelines", pid), pid, pipeline)
            )
        problems.sort(key=lambda problem: problem.line or 0)
        raise PipelineError(problems) from exc

    problems = [locate(loc, message) for loc, message in _check_references(parsed)]
    if problems:
        raise PipelineError(problems)
    pipelines = {pid: with_closed_days(p) for pid, p in parsed.pipelines.items()}
    return PipelineCatalog(
        pipelines=pipelines,
        versions={pid: pipeline_version(p) for pid, p in pipelines.items()},
    )


class _Locator:
    """Turns a pydantic-style ``loc`` into a ``Problem`` with line, pipeline and stage."""

    def __init__(self, source: str, raw: Any, root: yaml.Node | None) -> None:
        self.source, self.raw, self.root = source, raw, root

    def __call__(self, loc: Loc, message: str) -> Problem:
        pipeline = str(loc[1]) if len(loc) > 1 and loc[0] == "pipelines" else None
        stage = None
        if pipeline is not None and len(loc) > 3 and loc[2] == "stages" and isinstance(loc[3], int):
            stage = self._stage_id(pipeline, loc[3])
        path = ".".join(map(str, loc[2:] if pipeline else loc))
        return Problem(self.source, self._line(loc), pipeline, stage, path, message)

    def _stage_id(self, pipeline: str, index: int) -> str | None:
        try:
            stage = self.raw["pipelines"][pipeline]["stages"][index]
        except (KeyError, IndexError, TypeError):
            return None
        stage_id = stage.get("id") if isinstance(stage, dict) else None
        return str(stage_id) if stage_id is not None else f"#{index + 1}"

    def _line(self, loc: Loc) -> int | None:
        node = self.root
        if node is None:
            return None
        for depth, part in enumerate(loc):
            found = _child(node, part)
            if found is None:
                break
            key, value = found
            if depth == len(loc) - 1 or isinstance(value, yaml.ScalarNode):
                # The line with the name on it, not the first line inside its block.
                node = key
                break
            node = value
        return node.start_mark.line + 1


def _child(node: yaml.Node, part: str | int) -> tuple[yaml.Node, yaml.Node] | None:
    """The (key, value) nodes of ``part`` in a mapping, or (item, item) in a sequence."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return key, value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        item: yaml.Node = node.value[part]
        return item, item
    return None


def _check_references(parsed: PipelineFile) -> Problems:
    """Every problem of every pipeline, pipeline by pipeline."""
    for pid, pipeline in parsed.pipelines.items():
        yield from check_pipeline(("pipelines", pid), pid, pipeline)
