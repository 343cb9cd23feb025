"""Data flows one way (DESIGN.md section 2): each package imports only what it may."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "andon"
VOCABULARY = {"signals", "errors", "namespace", "config", "sparkplug_b"}
ANYTHING = {"*"}

# "X may import": the vocabulary plus what is listed. Packages not listed may import nothing.
ALLOWED: dict[str, set[str]] = {
    "signals": VOCABULARY,
    "errors": VOCABULARY,
    "namespace": VOCABULARY,
    "config": VOCABULARY,
    "sparkplug_b": VOCABULARY,
    "connect": VOCABULARY,
    "historian": VOCABULARY,
    "ingest": VOCABULARY | {"connect", "historian"},
    "mes": VOCABULARY | {"historian"},
    "ml": VOCABULARY | {"historian"},
    "plan": VOCABULARY | {"historian", "mes", "ml"},
    "sim": VOCABULARY,
    "broker": VOCABULARY,
    "api": ANYTHING,
    "web": ANYTHING,
    "cli": ANYTHING,
    "__main__": {"cli"},
    "__init__": set(),
}
SUBPACKAGES = {p.stem for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}


def _domain(path: Path) -> str:
    return path.relative_to(SRC).parts[0].removesuffix(".py")


def _imported_domains(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "andon":  # from andon import mes, __version__
                names = [f"andon.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "andon" and len(parts) > 1 and parts[1] in SUBPACKAGES:
                found.add(parts[1])
    return found


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_follow_the_data_flow(path: Path) -> None:
    domain = _domain(path)
    allowed = ALLOWED.get(domain)
    assert allowed is not None, f"{domain} has no import rule: add it to DESIGN.md and here"
    if allowed == ANYTHING:
        return
    illegal = _imported_domains(path) - allowed - {domain}
    assert not illegal, f"{path.relative_to(SRC)} ({domain}) may not import {sorted(illegal)}"


def test_every_package_has_a_curated_sorted_public_surface() -> None:
    for init in SRC.glob("*/__init__.py"):
        tree = ast.parse(init.read_text(encoding="utf-8"))
        exported = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
        ]
        assert exported, f"{init.relative_to(SRC)} has no __all__"
        names = [elt.value for elt in exported[0].elts]  # type: ignore[attr-defined]
        assert names == sorted(names, key=_isort_key), f"{init.relative_to(SRC)}: unsorted __all__"


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, as ruff's RUF022 sorts ``__all__``."""
    return (0 if name.isupper() else 1 if name[:1].isupper() else 2, name)


def test_the_rule_catches_an_upstream_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from andon.ingest import Pipeline\nimport andon.api.app\n")
    assert _imported_domains(module) == {"ingest", "api"}
