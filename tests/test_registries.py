"""Every module that registers something (a block family, a design space, a zoo network, a
dataset loader, a CLI command) is reachable from the import list its registry is read through,
so a module that list forgets cannot be silently skipped by the tests that iterate registries."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from nas import cli
from spaces import registry as space_modules

ROOT = Path(__file__).resolve().parent.parent


def imported_by(module: Path) -> set[str]:
    """Module names (dotted) a file imports, `from pkg import a, b` counting as pkg.a and pkg.b."""
    names = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return names


def registering(folder: Path, pattern: str) -> set[str]:
    """Dotted names of the modules in `folder` whose source matches `pattern` (a registration)."""
    found = set()
    for path in sorted(folder.glob("*.py")):
        if path.stem not in ("registry", "__init__") and re.search(
            pattern, path.read_text(encoding="utf-8"), re.M
        ):
            found.add(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return found


def unreachable(folder: Path, pattern: str, listed: set[str]) -> list[str]:
    """Registering modules of `folder` that `listed` does not name."""
    return sorted(registering(folder, pattern) - listed)


CASES = {
    "block families": ("blocks", r"^@register\(", "blocks/library.py"),
    "zoo networks": ("nas/zoo", r"(^@register\(|\bregister\(f?\")", "nas/zoo/__init__.py"),
    "dataset loaders": ("nas/training", r"^@loader\(", "nas/training/datasets.py"),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_every_registering_module_is_imported_by_its_list(kind):
    folder, pattern, listing = CASES[kind]
    assert registering(ROOT / folder, pattern), f"no {kind} found: the pattern is stale"
    itself = ".".join(Path(listing).with_suffix("").parts)  # the loaders register where they are listed
    assert unreachable(ROOT / folder, pattern, imported_by(ROOT / listing) | {itself}) == []


def test_the_dataset_loaders_register_in_their_own_modules():
    """digits and synthetic in datasets.py itself; every other loader in the module named for it."""
    assert registering(ROOT / "nas/training", r"^@loader\(") == {
        f"nas.training.{m}" for m in ("datasets", "cifar", "npzfile", "imagefolder", "segdata")
    }


def test_every_space_module_is_in_the_registrys_list():
    """Spaces load on demand from spaces.registry.MODULES, so that list is the one to keep."""
    found = registering(ROOT / "spaces", r"^\s*register\(")
    assert len(found) >= 5 and sorted(found - set(space_modules.MODULES)) == []


def test_every_command_module_is_in_the_clis_list():
    found = registering(ROOT / "nas/commands", r"^def add_parser\(")
    assert len(found) >= 10 and sorted(found - {f"nas.commands.{c}" for c in cli.COMMANDS}) == []


def test_a_forgotten_module_is_found(tmp_path):
    """The check flags a registering module the list leaves out, and only that one."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "kept.py").write_text("@register('a')\nclass A: ...\n")
    (pkg / "forgotten.py").write_text("@register('b')\nclass B: ...\n")
    (pkg / "plain.py").write_text("X = 1\n")
    listing = pkg / "listing.py"
    listing.write_text("from pkg import kept\n")
    global ROOT
    root, ROOT = ROOT, tmp_path
    try:
        assert unreachable(pkg, r"^@register\(", imported_by(listing)) == ["pkg.forgotten"]
    finally:
        ROOT = root
