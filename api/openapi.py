"""The OpenAPI document says what the API enforces, so that a client generated from it is right.

FastAPI documents each parameter and body field on its own; the app enforces a few rules across
them, stated here once for every operation:

- ``actor_role`` and ``actor_id`` go together: one optional query object (form style, exploded,
  so the wire keeps ``?actor_role=buyer&actor_id=b-1``) that needs both, its roles limited to
  those a route may be read as (``x-read-as`` on the route; an empty list: no party reads it);
- no path or query parameter, and no string or key in a JSON body, holds a control character
  (``api/limits.py`` refuses them with 422): their schemas carry the pattern that says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from domain.types import IDENTIFIER_PATTERN, Role

#: No C0 control character but tab, LF and CR, no DEL, no C1 control character (api/limits.py).
PLAIN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$"
READ_AS = "x-read-as"
PLAIN_JSON = "PlainJson"
_COMPONENTS = "#/components/schemas/"
_ACTOR = ("actor_role", "actor_id")


def read_as(*roles: Role) -> dict[str, Any]:
    """``openapi_extra`` of a route that may be read as these roles only (none: by no party)."""
    return {READ_AS: [role.value for role in roles]}


def install(app: FastAPI) -> None:
    """Rewrite the generated document once, when it is first asked for."""
    generate: Callable[[], dict[str, Any]] = app.openapi
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        if not done:
            schema = generate()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components[PLAIN_JSON] = _plain_json()
            for path_item in schema.get("paths", {}).values():
                for operation in path_item.values():
                    _reader(operation)
                    _plain_parameters(operation)
                    body = operation.get("requestBody", {}).get("content", {})
                    for media_type, media in body.items():
                        if "json" in media_type:
                            _plain_strings(media.get("schema", {}), components, set())
            done.append(schema)
        return done[0]

    app.openapi = openapi  # type: ignore[method-assign]


def _reader(operation: dict[str, Any]) -> None:
    """Replace the two reader parameters by one object that needs both."""
    roles = operation.pop(READ_AS, [role.value for role in Role])
    parameters = operation.get("parameters", [])
    found = {p["name"]: p for p in parameters if p.get("in") == "query" and p.get("name") in _ACTOR}
    if set(found) != set(_ACTOR):
        return
    operation["parameters"] = [p for p in parameters if p not in found.values()]
    if not roles:
        return  # no party reads it: the pair is refused (422) and not offered
    operation["parameters"].append(
        {
            "name": "reader",
            "in": "query",
            "required": False,
            "style": "form",
            "explode": True,
            "description": "read as this party: actor_role and actor_id, both or neither (the API key"
            " must be allowed to act as it)",
            "schema": {
                "type": "object",
                "title": "Reader",
                "properties": {
                    "actor_role": {"type": "string", "enum": roles},
                    "actor_id": {"type": "string", "pattern": IDENTIFIER_PATTERN},
                },
                "required": list(_ACTOR),
                "additionalProperties": False,
            },
        }
    )


def _plain_json() -> dict[str, Any]:
    """Any JSON value without a control character in a string or a key (api/limits.py)."""
    itself = {"$ref": f"{_COMPONENTS}{PLAIN_JSON}"}
    return {
        "description": "any JSON value; no string or key holds a control character",
        "anyOf": [
            {"type": "string", "pattern": PLAIN},
            {"type": ["number", "boolean", "null"]},
            {"type": "array", "items": itself},
            {"type": "object", "propertyNames": {"pattern": PLAIN}, "additionalProperties": itself},
        ],
    }


def _plain_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") in ("path", "query"):
            _plain_string(parameter.get("schema", {}))


def _plain_string(schema: dict[str, Any]) -> None:
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string" and not {"pattern", "enum", "const", "format"} & branch.keys():
            branch["pattern"] = PLAIN


def _plain_strings(schema: dict[str, Any], components: dict[str, Any], seen: set[str]) -> None:
    """Every string and free key of a request body's schema, followed through its references."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen and name in components:
            seen.add(name)
            _plain_strings(components[name], components, seen)
        return
    _plain_string(schema)
    if schema.get("type") == "object" and schema.get("additionalProperties", True) is not False:
        schema.setdefault("propertyNames", {"pattern": PLAIN})
        if schema.get("additionalProperties", True) is True:  # any JSON: any but control characters
            schema["additionalProperties"] = {"$ref": f"{_COMPONENTS}{PLAIN_JSON}"}
    for key in ("properties", "$defs"):
        for child in schema.get(key, {}).values():
            _plain_strings(child, components, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            _plain_strings(schema[key], components, seen)
    for key in ("anyOf", "oneOf", "allOf"):
        for child in schema.get(key, []):
            _plain_strings(child, components, seen)
