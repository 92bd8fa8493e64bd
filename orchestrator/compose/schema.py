"""Stage "schema": check one compose file's shape against shoal's JSON schema.

Runs per file (and per YAML document) after interpolation and type casts, so
values are already ints/bools where Compose casts them. The schema lives next
to this module (``compose-spec.json``, draft-07, written for shoal): unknown
keys are errors except ``x-*`` extensions where Compose allows them.

Errors are reported the way Compose words them, at the line and column of the
offending node (for an unknown key: the key itself), e.g.
``compose.yaml:4:5: services.web additional property "imgae" is not allowed``.
When a file has several problems the first one in the file is reported.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import lru_cache
from pathlib import Path as FsPath
from typing import Any, Iterable

import jsonschema
from jsonschema.exceptions import ValidationError

from .errors import ComposeError, Pos
from .parse import Document, Path

__all__ = ["SCHEMA_FILE", "load_schema", "validate_document", "validate_data", "format_path"]

SCHEMA_FILE = FsPath(__file__).with_name("compose-spec.json")

# Go durations plus the d/w units compose-go accepts; "0" alone is allowed too.
_DURATION = re.compile(r"^[-+]?(?:0|(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h|d|w))+)$")

_TYPE_WORDS = {
    "object": "mapping",
    "array": "list",
    "string": "string",
    "number": "number",
    "integer": "integer",
    "boolean": "boolean",
    "null": "null",
}


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The compose schema as a dict, read once."""
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        return json.load(f)


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("duration")
    def _is_duration(value: object) -> bool:
        return not isinstance(value, str) or bool(_DURATION.match(value))

    return checker


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(load_schema(), format_checker=_format_checker())


def _key_str(key: Any) -> str:
    """How go-yaml would spell a non-string mapping key."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def _json_view(data: Any) -> Any:
    """A copy of ``data`` with every mapping key a string, as JSON schema expects."""
    if isinstance(data, dict):
        return {_key_str(k): _json_view(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_json_view(v) for v in data]
    return data


def _original_path(data: Any, path: Iterable[Any]) -> Path:
    """Map a path of the string-keyed view back to the document's real keys."""
    out: list[Any] = []
    node = data
    for part in path:
        if isinstance(node, dict):
            key = next((k for k in node if _key_str(k) == part), part)
            out.append(key)
            node = node.get(key)
        else:
            out.append(part)
            node = node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None
    return tuple(out)


def format_path(path: Iterable[Any]) -> str:
    """Compose's dotted spelling of a path: ``services.web.ports.0``; ``(root)`` if empty."""
    parts = [_key_str(p) for p in path]
    return ".".join(parts) if parts else "(root)"


def _types_phrase(types: Iterable[str]) -> str:
    words: list[str] = []
    for t in sorted(types, key=lambda t: t == "null"):
        word = _TYPE_WORDS.get(t, t)
        if word not in words:
            words.append(word)
    if not words:
        return "a valid value"
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
    article = "an" if text[0] in "aeiou" else "a"
    return f"{article} {text}"


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        return load_schema()["definitions"][ref.rsplit("/", 1)[1]]
    return schema


def _schema_types(schema: dict[str, Any]) -> list[str]:
    """Types a (sub)schema accepts, looking through $ref and oneOf/anyOf."""
    schema = _resolve(schema)
    if "type" in schema:
        t = schema["type"]
        return [t] if isinstance(t, str) else list(t)
    out: list[str] = []
    for key in ("oneOf", "anyOf"):
        for sub in schema.get(key, []):
            out.extend(_schema_types(sub))
    return out


def _is_type_miss(error: ValidationError) -> bool:
    """True if ``error`` says the instance itself has the wrong type for its branch."""
    return error.validator == "type" and not error.relative_path


def _descend(error: ValidationError) -> ValidationError:
    """Follow oneOf/anyOf into the branch the user evidently meant, if there is one."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        viable = [errs for errs in branches.values() if not any(_is_type_miss(e) for e in errs)]
        if not viable:
            return error  # no branch has the right type: reported as a type error
        if len(viable) > 1 and all(e.validator == "required" for errs in viable for e in errs):
            return error
        candidates = [e for errs in viable for e in errs]
        error = max(candidates, key=lambda e: len(e.relative_path))
    return error


def _extra_keys(error: ValidationError) -> list[str]:
    schema, instance = error.schema, error.instance
    known = set(schema.get("properties", {}))
    patterns = list(schema.get("patternProperties", {}))
    return [
        k for k in instance
        if k not in known and not any(re.search(p, k) for p in patterns)
    ]


def _additional(error: ValidationError, path: list[Any]) -> tuple[list[Any], str]:
    extras = _extra_keys(error) or ["?"]
    key = extras[0]
    where = format_path(path)
    props = list(error.schema.get("properties", {}))
    if not props:
        pattern = next((p for p in error.schema.get("patternProperties", {}) if p != "^x-"), "")
        return path + [key], f'{where} has an invalid name "{key}": it must match {pattern}'
    message = f'{where} additional property "{key}" is not allowed'
    close = difflib.get_close_matches(key, props, n=1, cutoff=0.75)
    if close:
        message += f' (did you mean "{close[0]}"?)'
    return path + [key], message


def _duplicate_index(items: list[Any]) -> int:
    for j in range(1, len(items)):
        for i in range(j):
            if jsonschema.Draft7Validator({"const": items[i]}).is_valid(items[j]):
                return j
    return 0


def _describe(error: ValidationError) -> tuple[list[Any], str]:
    """The path to point at and the Compose-style message for one schema error."""
    error = _descend(error)
    path = list(error.absolute_path)
    where = format_path(path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        return _additional(error, path)
    if kind == "type":
        return path, f"{where} must be {_types_phrase([value] if isinstance(value, str) else value)}"
    if kind in ("oneOf", "anyOf"):
        if error.context and all(e.validator == "required" for e in error.context):
            names = ", ".join(f'"{e.validator_value[0]}"' for e in error.context if e.validator_value)
            return path, f"{where} must set one of {names}"
        return path, f"{where} must be {_types_phrase(_schema_types(error.schema))}"
    if kind == "required":
        missing = next((n for n in value if n not in instance), value[0])
        return path, f"{where} requires \"{missing}\"" if path else f'"{missing}" is required'
    if kind == "enum":
        choices = ", ".join(json.dumps(c) for c in value)
        return path, f"{where} must be one of {choices} (got {json.dumps(instance)})"
    if kind == "pattern":
        hint = error.schema.get("x-error") or f"must match {value}"
        return path, f"{where} {hint} (got {json.dumps(instance)})"
    if kind == "format":
        return path, f"{where} is not a valid {value}: {json.dumps(instance)}"
    if kind == "uniqueItems":
        j = _duplicate_index(instance)
        return path + [j], f"{where} contains a duplicate item: {json.dumps(instance[j])}"
    if kind == "minimum":
        return path, f"{where} must be greater than or equal to {value}"
    if kind == "maximum":
        return path, f"{where} must be less than or equal to {value}"
    return path, f"{where} {error.message}"


def _pos_key(pos: Pos) -> tuple[int, int]:
    return (pos.line if pos.line > 0 else 1 << 30, pos.column)


def validate_data(data: Any, doc: Document) -> None:
    """Validate ``data`` (normally ``doc.data``); raise the first problem as ComposeError."""
    view = _json_view({} if data is None else data)
    found: list[tuple[tuple[int, int], Pos, str]] = []
    for error in _validator().iter_errors(view):
        path, message = _describe(error)
        pos = doc.pos(_original_path(data, path))
        found.append((_pos_key(pos), pos, message))
    if found:
        _, pos, message = min(found, key=lambda item: item[0])
        raise ComposeError(message, pos)


def validate_document(doc: Document) -> None:
    """Check one file's document against the compose schema.

    An empty document is valid (nothing to check); an override file is
    partial, so only what the schema itself requires is required.
    """
    validate_data(doc.data, doc)
