"""Safe YAML reading for every file the project reads (experiments, specs, recorded runs).

PyYAML's SafeLoader builds no objects, but still lets a few lines of aliases stand for
billions of values ("billion laughs") and keeps the last of two equal keys without a word.
`Loader` refuses both while the document is read, and `read` turns every way a file can
be unreadable into one UserError naming the file and the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from blocks.errors import UserError

MAX_NODES = 100_000  # values a document may hold once its aliases are expanded
MAX_BYTES = 16 * 2**20  # experiment and spec files are a few kB
MERGE = "tag:yaml.org,2002:merge"


class Loader(yaml.SafeLoader):
    """SafeLoader that refuses a document expanding past MAX_NODES values, and duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> values it stands for, aliases expanded
        self._composed = 0  # nodes read so far, so a long flat file stops early too

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        """Compose as SafeLoader does, counting the values each node stands for."""
        mark = self.peek_event().start_mark
        self._composed += 1
        if self._composed > MAX_NODES:
            raise _too_many(mark)
        alias = self.check_event(yaml.AliasEvent)
        node = super().compose_node(parent, index)
        if alias and id(node) not in self._sizes:  # its anchor is still being read
            raise yaml.composer.ComposerError(
                None, None, "an alias inside its own anchor (a value holding itself)", mark
            )
        if id(node) not in self._sizes:
            size = 1 + sum(self._sizes.get(id(child), 1) for child in _children(node))
            if size > MAX_NODES:
                raise _too_many(node.start_mark)
            self._sizes[id(node)] = size
        return node

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        """Construct as SafeLoader does, after refusing a key written twice in one mapping."""
        if isinstance(node, yaml.MappingNode):
            _no_duplicates(self, node)
        return super().construct_mapping(node, deep)


def _too_many(mark: yaml.Mark) -> yaml.YAMLError:
    """The error of a document that stands for more than MAX_NODES values."""
    return yaml.composer.ComposerError(
        None,
        None,
        f"more than {MAX_NODES} values, aliases expanded; write fewer, or split the file",
        mark,
    )


def _children(node: yaml.Node) -> list[yaml.Node]:
    """The nodes directly inside a sequence or mapping (keys and values); none for a scalar."""
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _no_duplicates(loader: Loader, node: yaml.MappingNode) -> None:
    """Raise a ConstructorError at the second of two equal keys (merged `<<` keys may be overridden)."""
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == MERGE:
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key: SafeLoader refuses it with its own message
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r}; each key may appear once in a mapping",
                key_node.start_mark,
            )
        seen.add(key)


def loads(text: str, source: str, problem: str = "malformed YAML", error: type[UserError] = UserError) -> Any:
    """The document in `text`; any YAML problem is `error` naming `source`, the line and column."""
    try:
        return yaml.load(text, Loader=Loader)  # noqa: S506 - Loader is a SafeLoader
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{source}: {problem}{where}: {getattr(err, 'problem', None) or err}") from None
    except RecursionError:
        raise error(f"{source}: {problem}: nested too deeply to read") from None


def read(path: str | Path, problem: str = "malformed YAML", error: type[UserError] = UserError) -> Any:
    """The document in the file at `path`, read as `loads` does; a file that cannot be read as
    UTF-8 text of at most MAX_BYTES is `error` naming it and why."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise error(f"{path}: {path.stat().st_size} bytes; a YAML file here holds at most {MAX_BYTES}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{path}: {problem}: not UTF-8 text (byte {err.start})") from None
    except (OSError, ValueError) as err:
        raise error(f"{path}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    return loads(text, str(path), problem, error)
