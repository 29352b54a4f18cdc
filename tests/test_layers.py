"""The packages stand on each other in one direction (blocks <- spaces <- nas) and no module
imports itself back through others: checked on the source, so a new import cannot slip by."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("blocks", "spaces", "nas")  # each may import only those before it


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in LAYERS:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its body (function-level imports count too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in known:
                    found.add(target)
                elif base in known:
                    found.add(base)
    return found


def _graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_graph_sees_the_packages():
    graph = _graph()
    assert {"blocks.spec", "spaces.base", "nas.cli"} <= set(graph)
    assert "blocks.spec" in graph["spaces.base"]  # the reader resolves `from X import Y`


def test_layers_point_one_way():
    upward = [
        f"{mod} imports {dep}"
        for mod, deps in _graph().items()
        for dep in deps
        if LAYERS.index(dep.split(".")[0]) > LAYERS.index(mod.split(".")[0])
    ]
    assert upward == []


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Inside nas/, from the bottom: each sub-package or module may import only those before it. The
# package root `nas` (its version and the lazy names of the API) is not a layer.
NAS_LAYERS = (
    "seeds",
    "outputs",
    "training",
    "config",
    "records",
    "stats",
    "hdc",
    "zoo",
    "sweeping",
    "analysis",
    "exporting",
    "exploring",
    "api",
    "commands",
    "cli",
)
CLI = ("commands", "cli")


def _room(module: str) -> str | None:
    """The nas/ layer a module belongs to, None outside nas/ or for the package root."""
    parts = module.split(".")
    return parts[1] if parts[0] == "nas" and len(parts) > 1 else None


def nas_upward(graph: dict[str, set[str]]) -> list[str]:
    """Imports inside nas/ that point to a later layer (or to an undeclared one)."""
    out = []
    for mod, deps in graph.items():
        here = _room(mod)
        for dep in deps:
            there = _room(dep)
            if here is None or there is None or here == there:
                continue
            if here not in NAS_LAYERS or there not in NAS_LAYERS:
                out.append(f"{mod} or {dep} is in no declared layer")
            elif NAS_LAYERS.index(there) > NAS_LAYERS.index(here):
                out.append(f"{mod} imports {dep}")
    return out


def cli_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports of the CLI (nas.cli, nas.commands) from anywhere below it."""
    return [
        f"{mod} imports {dep}"
        for mod, deps in graph.items()
        for dep in deps
        if _room(dep) in CLI and _room(mod) not in CLI
    ]


# The CLI's face: besides its own modules and the package root (the version), the CLI imports the
# public API and nothing else of the project, so every rule it applies lives in the library.
FACE = ("nas.api", "nas")


def cli_reaches_past_the_api(graph: dict[str, set[str]]) -> list[str]:
    """Imports of the CLI (nas.cli, nas.commands) of any project module but the API, its own, or the root."""
    return [
        f"{mod} imports {dep}"
        for mod, deps in graph.items()
        if _room(mod) in CLI
        for dep in sorted(deps)
        if dep not in FACE and _room(dep) not in CLI
    ]


def test_nas_subpackages_point_one_way():
    assert nas_upward(_graph()) == []


def test_nothing_below_the_cli_imports_it():
    assert cli_imports(_graph()) == []


def test_the_cli_imports_only_the_api():
    assert cli_reaches_past_the_api(_graph()) == []


def test_the_graph_sees_what_the_cli_imports():
    graph = _graph()
    assert "nas.api" in graph["nas.commands.analyze"]
    assert "nas.api" in graph["nas.cli"]


def test_every_nas_module_is_in_a_declared_layer():
    rooms = {_room(m) for m in _graph()} - {None}
    assert rooms <= set(NAS_LAYERS), rooms - set(NAS_LAYERS)


def test_the_checks_catch_planted_violations():
    """Each rule fails on a graph with one planted import against it."""
    planted = {
        "nas.records.store": {"nas.sweeping.driver"},  # the run record reaching up to the sweep
        "nas.stats.edf": {"nas.analysis.analyze"},  # statistics reaching up to analysis
        "nas.training.loop": {"nas.config"},  # training reaching up to the experiment file
        "nas.sweeping.driver": {"nas.records.store", "nas.stats.sequential"},  # allowed
        "nas.api": {"nas.commands.results"},  # the API reaching up to the CLI
        "nas.zoo.regnet": {"nas.newroom.x"},  # a package no layer declares
    }
    assert nas_upward(planted) == [
        "nas.records.store imports nas.sweeping.driver",
        "nas.stats.edf imports nas.analysis.analyze",
        "nas.training.loop imports nas.config",
        "nas.api imports nas.commands.results",
        "nas.zoo.regnet or nas.newroom.x is in no declared layer",
    ]
    assert cli_imports(planted) == ["nas.api imports nas.commands.results"]


def test_the_face_check_catches_planted_violations():
    """A command reaching past the API to the engine, to blocks/ or spaces/ is named; the API,
    the CLI's own modules and the package root are not."""
    planted = {
        "nas.commands.sample": {"nas.api", "nas.seeds", "spaces"},  # the engine and a space registry
        "nas.commands.build": {"blocks.complexity", "nas.commands.sample"},  # blocks/; its own (allowed)
        "nas.cli": {"nas", "nas.api", "nas.commands.results"},  # all allowed
        "nas.api": {"nas.records.table"},  # below the CLI: not its rule
    }
    assert cli_reaches_past_the_api(planted) == [
        "nas.commands.sample imports nas.seeds",
        "nas.commands.sample imports spaces",
        "nas.commands.build imports blocks.complexity",
    ]


# --- the engine's messages name arguments, not the CLI's flags or commands -----------------------

FLAG_WORDS = re.compile(r"(?<![\w-])--[a-z][\w-]*|`nas [a-z]+")  # `--resume`, "`nas sweep ..."


def _engine_sources() -> dict[str, str]:
    """The source of every nas/ module below the CLI (all but nas/cli.py and nas/commands/)."""
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for path in sorted((ROOT / "nas").rglob("*.py"))
        if path.name != "cli.py" and "commands" not in path.relative_to(ROOT / "nas").parts
    }


def flags_in_errors(sources: dict[str, str]) -> list[str]:
    """Each string that a raise (or an error built to be raised, `...Error(...)`) holds and that
    names a CLI flag or command, as FILE:LINE and the words."""
    found = []
    for name, source in sources.items():
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Raise) and node.exc is not None:
                made = node.exc
            elif isinstance(node, ast.Call) and getattr(
                node.func, "id", getattr(node.func, "attr", "")
            ).endswith("Error"):
                made = node
            else:
                continue
            for part in ast.walk(made):
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    found += [f"{name}:{part.lineno} {w}" for w in FLAG_WORDS.findall(part.value)]
    return sorted(set(found))


def test_engine_messages_name_arguments_not_flags():
    assert flags_in_errors(_engine_sources()) == []


def test_the_message_check_catches_planted_flags():
    """A flag or a command in a raised message is named, in an f-string or built to be returned;
    an argument's `{name}` placeholder, a docstring and a plain print are not."""
    planted = {
        "nas/x.py": (
            "def f(out):\n"
            "    '''Like `nas sweep --resume`.'''\n"
            "    print('see --help')\n"
            "    if out:\n"
            "        raise UserError(f'{out}: resume it with --resume {out}')\n"
            "    raise ArgError('', '{resume} goes with a new sweep', ['resume'])\n"
            "def g():\n"
            "    return UserError('finish with `nas sweep DIR`')\n"
        )
    }
    assert flags_in_errors(planted) == ["nas/x.py:5 --resume", "nas/x.py:8 `nas sweep"]
