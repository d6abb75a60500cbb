"""docs/architecture.md "Direction of imports": its rules, checked by an AST walk over every import (lazy ones too)."""
from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("refsr", "pipelines", "bench")
COMPUTE = ("refsr.methods", "refsr.synthesis", "refsr.matching", "refsr.baselines", "refsr.shipped", "refsr.archs")
IMAGE_LIBRARIES = ("numpy", "torch", "kornia", "cv2", "imageio", "PIL", "skimage")


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _absolute(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imported(module: str) -> frozenset[str]:
    """Every dotted name `module` imports anywhere in its file (`from a import b` gives a and a.b)."""
    names = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, node)
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return frozenset(names)


def _project_module(name: str) -> str | None:
    """The longest prefix of `name` that is a module of this repository."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in MODULES:
            return ".".join(parts[:end])
    return None


@cache
def depends_on(module: str) -> frozenset[str]:
    """The repository modules `module` imports directly (a package's own submodules count once it names them)."""
    found = {_project_module(n) for n in imported(module)} - {None, module}
    return frozenset(m for m in found if not module.startswith(f"{m}.") or m in imported(module))


def reaches(module: str) -> set[str]:
    seen, todo = set(), [module]
    while todo:
        for m in depends_on(todo.pop()):
            if m not in seen:
                seen.add(m)
                todo.append(m)
    return seen


def _in(module: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(module == p or module.startswith(f"{p}.") for p in prefixes)


def _top_levels(module: str) -> set[str]:
    return {name.split(".")[0] for name in imported(module)}


def test_the_walk_sees_the_package() -> None:
    assert {"refsr.store", "refsr.matching.search", "pipelines.flows", "bench.quality"} <= set(MODULES)
    assert "refsr.store" in depends_on("refsr.runs") and "refsr.matching.search" in depends_on("refsr.synthesis")


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for m in sorted(depends_on(module)):
            if state.get(m) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(m):] + [module, m]))
            if m not in state:
                visit(m, path + [module])
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module, [])


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _in(m, "refsr")))
def test_refsr_stays_below_the_orchestration(module: str) -> None:
    assert not _top_levels(module) & {"pipelines", "bench", "prefect", "dask", "distributed"}
    assert "zarr" not in _top_levels(module) or module == "refsr.store"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _in(m, COMPUTE)))
def test_compute_code_never_reaches_files_runs_or_training(module: str) -> None:
    assert not {m for m in reaches(module) if _in(m, ("refsr.io", "refsr.store", "refsr.runs", "refsr.datasets",
                                                      "refsr.train"))}


def test_networks_and_readers_know_only_their_own_parts() -> None:
    for module in (m for m in MODULES if _in(m, "refsr.archs")):
        assert depends_on(module) <= {"refsr.archs", "refsr.degrade"} | {m for m in MODULES if _in(m, "refsr.archs")}
    for module in (m for m in MODULES if _in(m, "refsr.io")):
        assert all(_in(m, ("refsr.io", "refsr.errors")) for m in depends_on(module)), module


def test_training_and_the_data_split_are_imported_only_where_they_belong() -> None:
    for module in MODULES:
        if _in(module, ("refsr.train", "refsr.cli")):
            continue
        assert not any(_in(m, "refsr.train") for m in depends_on(module)), module
        if not _in(module, ("bench", "refsr.datasets")):
            assert "refsr.datasets" not in depends_on(module), module
    assert not depends_on("refsr.methods") & {"refsr.runs"} and not depends_on("refsr.runs") & {"refsr.methods"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _in(m, "pipelines")))
def test_flows_are_free_of_image_code(module: str) -> None:
    assert not _top_levels(module) & set(IMAGE_LIBRARIES)
