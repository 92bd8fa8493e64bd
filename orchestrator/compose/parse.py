"""Stage 1 of loading: YAML text to plain Python data, with positions.

Compose reads files with go-yaml, which behaves like YAML 1.2's core schema:
``22:22``, ``no``, ``on`` and ``0777``-style octals stay strings or decimal ints.
PyYAML implements YAML 1.1, so this module swaps its implicit resolvers for
the 1.2 core ones and keeps everything else (anchors, aliases, ``<<`` merge keys).

The result of parsing is a list of :class:`Document` (one per YAML document):
plain ``dict``/``list``/``str``/``int``/``float``/``bool``/``None`` data plus
side tables keyed by *path* (a tuple of mapping keys and list indexes):

* ``positions[path]``: where the key (or list item) was written;
* ``resets``: paths tagged ``!reset`` (dropped from the data, removed from the
  model built so far when merged);
* ``overrides``: paths tagged ``!override`` (kept, and replace instead of merge).

Later stages keep paths stable, so any error can be pointed back at a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import ComposeError, Pos

__all__ = ["Document", "Path", "parse_yaml", "resolve_scalar", "Locator", "MAX_EXPANDED_NODES"]

Path = tuple[Any, ...]


@dataclass
class Document:
    """One parsed YAML document of a compose file."""

    file: str
    data: Any
    positions: dict[Path, Pos] = field(default_factory=dict)
    resets: set[Path] = field(default_factory=set)
    overrides: set[Path] = field(default_factory=set)

    def pos(self, path: Path) -> Pos:
        """The position of ``path`` or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), Pos(self.file))


class _Reset:
    """Placeholder for a node tagged ``!reset`` while the tree is being built."""


class _Override:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_LEGACY_OCTAL = re.compile(r"^[-+]?0[0-7]+$")

# go-yaml gives up on documents whose aliases expand past a budget ("excessive
# aliasing"); so do we, so that an alias bomb ends at once instead of never.
MAX_EXPANDED_NODES = 100_000
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars, positions and compose tags."""

    yaml_implicit_resolvers: dict = {}


def _add_resolvers() -> None:
    # Copy only the merge-key resolver from SafeLoader; everything else is 1.2 core.
    _Loader.yaml_implicit_resolvers = {}
    _Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
    _Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
    _Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789.")),
    _Loader.add_implicit_resolver("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""])
    _Loader.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^(?:<<)$"), ["<"])


_add_resolvers()


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    if _LEGACY_OCTAL.match(text):
        return int(text, 8)  # go-yaml (and so Compose) reads `mode: 0440` as octal
    return int(text, 10)


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    text = loader.construct_scalar(node).lower()
    if text.endswith("inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if text.endswith("nan"):
        return float("nan")
    return float(text)


def _construct_bool(loader: _Loader, node: yaml.ScalarNode) -> bool:
    return loader.construct_scalar(node).lower() == "true"


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def resolve_scalar(text: str) -> Any:
    """The value a plain (unquoted) YAML scalar ``text`` has when read the way Compose reads it."""
    loader = _Loader("")
    try:
        tag = loader.resolve(yaml.ScalarNode, text, (True, False))
        return loader.construct_object(yaml.ScalarNode(tag, text))
    finally:
        loader.dispose()


def _construct_reset(loader: _Loader, node: yaml.Node) -> _Reset:
    return _Reset()


def _construct_override(loader: _Loader, node: yaml.Node) -> _Override:
    if isinstance(node, yaml.MappingNode):
        value: Any = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)
        # Resolve the scalar as if it had no tag, so `!override 3` is still an int.
        tag = loader.resolve(yaml.ScalarNode, value, (True, False))
        value = loader.construct_object(yaml.ScalarNode(tag, value, node.start_mark, node.end_mark))
    return _Override(value)


_Loader.add_constructor("!reset", _construct_reset)
_Loader.add_constructor("!override", _construct_override)


def _check_duplicates(node: yaml.MappingNode, file: str) -> None:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = key_node.value
        if key in seen:
            first = seen[key].start_mark.line + 1
            raise ComposeError(
                f"mapping key {key!r} already defined at line {first}", _mark(file, key_node)
            )
        seen[key] = key_node


def _mark(file: str, node: yaml.Node) -> Pos:
    return Pos(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _record(doc: Document, node: yaml.Node, path: Path, loader: _Loader, budget: list[int]) -> None:
    """Walk the composed node tree beside the data to fill positions."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ComposeError("document has excessive aliasing", doc.positions.get((), Pos(doc.file)))
    if len(path) > 200:
        raise ComposeError("document is nested too deeply (or an alias refers to itself)",
                           doc.positions.get((), Pos(doc.file)))
    if isinstance(node, yaml.MappingNode):
        _check_duplicates(node, doc.file)
        # flatten_mapping resolves `<<` in place; positions of merged-in keys point at their anchor.
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            if key_node.tag == "tag:yaml.org,2002:str":
                key = key_node.value
            else:
                key = loader.construct_object(key_node, deep=True)
            child = path + (key,)
            doc.positions[child] = _mark(doc.file, key_node)
            _record(doc, value_node, child, loader, budget)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            doc.positions.setdefault(path + (i,), _mark(doc.file, item))
            _record(doc, item, path + (i,), loader, budget)


def _strip_tags(doc: Document, data: Any, path: Path) -> Any:
    """Replace !reset/!override placeholders by plain data, noting their paths."""
    if isinstance(data, _Override):
        doc.overrides.add(path)
        return _strip_tags(doc, data.value, path)
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if isinstance(value, _Reset):
                doc.resets.add(path + (key,))
                continue
            out[key] = _strip_tags(doc, value, path + (key,))
        return out
    if isinstance(data, list):
        items = []
        for i, value in enumerate(data):
            if isinstance(value, _Reset):
                doc.resets.add(path + (i,))
                continue
            items.append(_strip_tags(doc, value, path + (len(items),)))
        return items
    return data


def parse_yaml(text: str, file: str) -> list[Document]:
    """Parse compose YAML ``text`` read from ``file`` into documents.

    Raises :class:`ComposeError` with the file, line and column for any syntax
    error, duplicate key, or unhashable key.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    docs: list[Document] = []
    loader = None
    try:
        loader = _Loader(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            doc = Document(file=file, data=None)
            doc.positions[()] = _mark(file, node)
            _record(doc, node, (), loader, [MAX_EXPANDED_NODES])
            data = loader.construct_document(node)
            doc.data = _strip_tags(doc, data, ())
            docs.append(doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file)
        problem = exc.problem or exc.context or "invalid YAML"
        raise ComposeError(f"invalid YAML: {problem}", pos) from None
    except yaml.reader.ReaderError as exc:
        before = text[: exc.position]
        pos = Pos(file, before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise ComposeError(f"invalid YAML: unacceptable character #x{code:04x}", pos) from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"invalid YAML: {' '.join(str(exc).split())}", Pos(file)) from None
    except TypeError as exc:  # e.g. a mapping used as a key
        raise ComposeError(f"invalid YAML: {exc}", Pos(file)) from None
    except RecursionError:
        raise ComposeError("invalid YAML: nested too deeply", Pos(file)) from None
    finally:
        if loader is not None:
            loader.dispose()
    return docs


class Locator:
    """Finds where a path of the merged model was written, across all loaded files.

    Later documents win (they are what the user last wrote for a key); the
    deepest path any document knows is used, so an error inside a value that
    came from a base file still points into that file.
    """

    def __init__(self, docs: list[Document] | None = None):
        self.docs: list[Document] = list(docs or [])

    def add(self, doc: Document) -> None:
        self.docs.append(doc)

    def find(self, path: Path) -> Pos | None:
        path = tuple(path)
        for depth in range(len(path), -1, -1):
            prefix = path[:depth]
            for doc in reversed(self.docs):
                if prefix in doc.positions and (depth > 0 or prefix == ()):
                    return doc.positions[prefix]
        return Pos(self.docs[0].file) if self.docs else None

    def error(self, message: str, path: Path) -> ComposeError:
        return ComposeError(message, self.find(path))
