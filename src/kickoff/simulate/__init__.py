"""Previewing a pipeline: its run on a simulated clock, in the interpreter's pure core.

``preview`` runs a pipeline for one contract and a script of what staff do when, and returns
the plan (``Simulation``); ``kickoff-simulate`` (``cli``), ``POST /pipelines/{id}/simulate`` and
the board's Preview page are its three faces. Nothing here imports ``temporalio``.
"""

from kickoff.simulate.plan import Simulation
from kickoff.simulate.script import ScriptedAction, ScriptError, load_script
from kickoff.simulate.simulator import (
    InvalidInputError,
    Problem,
    SimulationError,
    UnknownPipelineError,
    preview,
)

__all__ = [
    "InvalidInputError",
    "Problem",
    "ScriptError",
    "ScriptedAction",
    "Simulation",
    "SimulationError",
    "UnknownPipelineError",
    "load_script",
    "preview",
]
