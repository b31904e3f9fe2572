"""Previewing a pipeline: its run on a simulated clock, in the interpreter's pure core."""
