"""refsr.errors: the one-line message the CLI prints names the file first."""
from __future__ import annotations

from pathlib import Path

from refsr.errors import InputError


def test_input_error_names_the_path_then_the_problem() -> None:
    err = InputError(Path("data") / "x.png", "not an image")
    assert str(err) == f"{Path('data') / 'x.png'}: not an image"
    assert (err.path, err.problem) == (str(Path("data") / "x.png"), "not an image")
    assert isinstance(err, Exception) and "\n" not in str(err)
