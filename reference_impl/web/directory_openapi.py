"""The OpenAPI description of the agents' directory API (`directory_api.py`).

The request schemas state every rule they can (patterns, ranges, the keys an
object takes); a property whose rule needs the server (a centre that exists, a
document in the catalogue, a logo that is an image) is marked
`x-server-checks`, and a 400 for a request the schema allows names one of
those. A PUT requires what an entry cannot do without; a PATCH requires nothing.
"""

from __future__ import annotations

from typing import Any

from ..directory import COLOUR, GREETING_MAX, LOGO_TYPES, TEMPLATE_NAME, TITLE_MAX
from .directory_json import (CAPACITY_MAX, CENTRES_MAX, DOCUMENTS_MAX, HOURS_MAX, KEY,
                             LABEL_MAX, PHONES_MAX, SECONDS_MAX)
from .openapi import _agent, _agent_errors, _error, _json

Schema = dict[str, Any]


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _checked(schema: Schema, why: str) -> Schema:
    return {**schema, "x-server-checks": why}


def _required(keys: list[str]) -> Schema:
    return {"required": keys} if keys else {}


def _seconds(minimum: str = "minimum") -> Schema:
    return {"type": "number", minimum: 0, "maximum": SECONDS_MAX, "description": "seconds"}


def _service_body(required: list[str]) -> Schema:
    name = {"type": "string", "pattern": KEY.pattern}
    return {"type": "object", "additionalProperties": False, **_required(required), "properties": {
        "label": _checked({"type": "string", "maxLength": LABEL_MAX,
                           "description": "what the form shows (empty: the code)"},
                          "text: no NUL characters"),
        "centres": _checked({"type": "array", "maxItems": CENTRES_MAX, "items": name,
                             "description": "the centres that serve it, in failover order"},
                            "each a centre of the directory"),
        "room_template": _checked({"type": "string", "pattern": TEMPLATE_NAME.pattern},
                                  "a template of the directory, or \"default\""),
        "hours": _checked(_nullable({
            "type": "object", "minProperties": 1, "maxProperties": HOURS_MAX,
            "additionalProperties": {"type": "string", "maxLength": 200},
            "example": {"mon-fri": "08:00-20:00", "sat": "09:00-14:00"}}),
            "days (mon ... sun, mon-fri) to windows (08:00-20:00, several by commas); "
            "null: always open"),
        "holidays": _checked({"anyOf": [
            {"type": "string", "pattern": "^[A-Za-z]{2,3}$", "description": "a country's "
             "public holidays (ES)"},
            {"type": "array", "maxItems": 1000, "items": {"type": "string", "format": "date"}}]},
            "a country the holidays registry knows, or real dates"),
        "slots": _nullable({"type": "object", "additionalProperties": False,
                            "required": ["every", "capacity"], "properties": {
                                "every": {**_seconds("exclusiveMinimum")},
                                "capacity": {"type": "integer", "minimum": 1,
                                             "maximum": CAPACITY_MAX}}})}}


def _service() -> Schema:
    return {"type": "object", "required": ["code", "label", "centres", "room_template", "hours",
                                           "holidays", "slots"], "properties": {
        "code": {"type": "string"}, "label": {"type": "string"},
        "centres": {"type": "array", "items": {"type": "string"}},
        "room_template": {"type": "string"},
        "hours": _nullable({"type": "object", "additionalProperties": {"type": "string"}}),
        "holidays": {"anyOf": [{"type": "string"},
                               {"type": "array", "items": {"type": "string"}}]},
        "slots": _nullable({"type": "object", "required": ["every", "capacity"], "properties": {
            "every": {"type": "number"}, "capacity": {"type": "integer"}}})}}


def _centre_body(required: list[str]) -> Schema:
    phone = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^\S+$"}
    return {"type": "object", "additionalProperties": False, **_required(required), "properties": {
        "desk_phones": _checked({"type": "array", "minItems": 1, "maxItems": PHONES_MAX,
                                 "uniqueItems": True, "items": phone,
                                 "description": "in hunting order: numbers or sip: URIs"},
                                "no control characters; none another centre has"),
        "ring_timeout": {**_seconds("exclusiveMinimum"), "default": 15},
        "queue_max_wait": _nullable(_seconds())}}


def _centre() -> Schema:
    return {"type": "object", "required": ["name", "desk_phones", "ring_timeout",
                                           "queue_max_wait"], "properties": {
        "name": {"type": "string"}, "desk_phones": {"type": "array", "items": {"type": "string"}},
        "ring_timeout": {"type": "number"}, "queue_max_wait": {"type": ["number", "null"]}}}


def _colours(strict: bool) -> Schema:
    colour = {"type": "string", "pattern": COLOUR.pattern} if strict else {"type": "string"}
    return {"type": "object", "additionalProperties": False,
            "properties": {key: _nullable(colour) for key in ("accent", "background", "text")}}


def _template_body() -> Schema:
    text = "no control characters (a greeting may break lines), not only spaces"
    return {"type": "object", "additionalProperties": False, "properties": {
        "title": _checked({"type": "string", "minLength": 1, "maxLength": TITLE_MAX,
                           "description": "the heading of the person's room page"}, text),
        "greeting": _checked({"type": "string", "maxLength": GREETING_MAX}, text),
        "colours": {**_colours(strict=True), "description": "#rrggbb or #rgb; null keeps the "
                    "page's own (PATCH changes the colours it names)"},
        "logo": _checked(_nullable({
            "type": "object", "additionalProperties": False, "required": ["data"],
            "properties": {"data": {"type": "string", "contentEncoding": "base64"},
                           "content_type": {"type": "string", "enum": sorted(LOGO_TYPES)}}}),
            "an image of that type (PNG, JPEG, GIF, WebP) of at most 256 kB; null: none"),
        "documents": _checked(_nullable({"type": "array", "maxItems": DOCUMENTS_MAX,
                                         "items": {"type": "string", "minLength": 1,
                                                   "maxLength": 120}}),
                              "each a document of the catalogue; null: every one"),
        "chat": {"type": "boolean"}}}


def _template() -> Schema:
    logo = {"type": "object", "required": ["content_type", "bytes", "url"], "properties": {
        "content_type": {"type": "string"}, "bytes": {"type": "integer"},
        "url": {"type": "string"}}}
    return {"type": "object", "required": ["name", "title", "greeting", "colours", "logo",
                                           "documents", "chat"], "properties": {
        "name": {"type": "string"}, "title": {"type": "string"}, "greeting": {"type": "string"},
        "colours": _colours(strict=False), "logo": _nullable(logo),
        "documents": _nullable({"type": "array", "items": {"type": "string"}}),
        "chat": {"type": "boolean"}}}


def _changed(schema: Schema) -> Schema:
    return {**schema, "required": [*schema["required"], "takes_effect"],
            "properties": {**schema["properties"], "takes_effect": {
                "type": "string", "description": "when the change applies: new rooms at once "
                "(templates), or when the system next starts (services, centres)"}}}


def _refusals() -> dict[str, Any]:
    return {"503": _json(_error(), "the directory's database is not available"),
            **_agent_errors()}


def _one(kind: str, key: str, pattern: str, shown: Schema, body: Schema,
         patch: Schema) -> dict[str, Any]:
    parameter = {"name": key, "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": pattern}}
    missing = _json(_error(), f"no such {kind}")
    changes = {"400": _json(_error(), "a field is wrong (`field` names it, the message says "
                            "where in it), or the directory would not hold together"),
               "413": _json(_error(), "the body is too big (`body`)"),
               "415": _json(_error(), "the body is not JSON"), **_refusals()}
    request = {"required": True, "content": {"application/json": {"schema": body}}}
    return {
        "get": {"summary": f"One {kind}", "security": _agent(), "parameters": [parameter],
                "responses": {"200": _json(shown, f"the {kind}"), "404": missing,
                              **_refusals()}},
        "put": {"summary": f"Add or replace a {kind} (fields left out take their defaults)",
                "security": _agent(), "parameters": [parameter], "requestBody": request,
                "responses": {"200": _json(_changed(shown), f"the {kind}, replaced"),
                              "201": _json(_changed(shown), f"the {kind}, added"),
                              **changes}},
        "patch": {"summary": f"Change the fields given of a {kind}", "security": _agent(),
                  "parameters": [parameter],
                  "requestBody": {**request, "content": {"application/json": {"schema": patch}}},
                  "responses": {"200": _json(_changed(shown), f"the {kind}, changed"),
                                "404": missing, **changes}}}


def _every(kind: str, shown: Schema) -> dict[str, Any]:
    return {"get": {"summary": f"Every {kind}, in the directory's order", "security": _agent(),
                    "responses": {"200": _json({"type": "array", "items": shown}, kind),
                                  **_refusals()}}}


def paths() -> dict[str, Any]:
    """The directory's paths, for the API's description."""
    whole = {"type": "object", "required": ["services", "centres", "templates"], "properties": {
        "services": {"type": "array", "items": _service()},
        "centres": {"type": "array", "items": _centre()},
        "templates": {"type": "array", "items": _template()}}}
    return {
        "/api/directory": {"get": {
            "summary": "The directory: every service, centre and room template",
            "security": _agent(), "responses": {"200": _json(whole, "the directory"),
                                                **_refusals()}}},
        "/api/directory/services": _every("service", _service()),
        "/api/directory/services/{code}": _one(
            "service", "code", KEY.pattern, _service(), _service_body(["centres"]),
            _service_body([])),
        "/api/directory/centres": _every("centre", _centre()),
        "/api/directory/centres/{name}": _one(
            "centre", "name", KEY.pattern, _centre(), _centre_body(["desk_phones"]),
            _centre_body([])),
        "/api/directory/templates": _every("room template", _template()),
        "/api/directory/templates/{name}": _one(
            "room template", "name", TEMPLATE_NAME.pattern, _template(), _template_body(),
            _template_body()),
    }
