"""Manifests to YAML: one multi-document stream, or one file per object."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import yaml

__all__ = ["to_yaml", "to_yaml_stream", "file_name"]


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key like kubectl prints them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        """Indent block sequences under their parent key."""
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        """Never write anchors: manifests repeat values (probe commands) on purpose."""
        return True


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    """Multi-line strings (scripts) as literal blocks, the rest as PyYAML decides."""
    style = "|" if "\n" in text and all(line == line.rstrip() for line in text.split("\n")) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(obj: Mapping[str, Any]) -> str:
    """One object as YAML, keys in the order they were built."""
    return yaml.dump(dict(obj), Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=120)


def to_yaml_stream(objects: Iterable[Mapping[str, Any]]) -> str:
    """Objects as one multi-document YAML stream (`kubectl apply -f -` reads it)."""
    return "".join("---\n" + to_yaml(obj) for obj in objects)


def file_name(index: int, obj: Mapping[str, Any]) -> str:
    """`NN-kind-name.yaml`: sorting the files keeps the apply order."""
    return f"{index:02d}-{str(obj['kind']).lower()}-{obj['metadata']['name']}.yaml"
