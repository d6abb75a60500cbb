"""Errors that the CLI turns into one clear line."""
from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad user input: names the offending file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
