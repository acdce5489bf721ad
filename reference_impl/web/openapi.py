"""The API's OpenAPI 3.1 description, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any


def _error() -> dict[str, Any]:
    return {"type": "object", "properties": {
        "error": {"type": "string"},
        "field": {"type": ["string", "null"], "description": "the request field at fault"}}}


def _callback() -> dict[str, Any]:
    return {"type": "object", "properties": {
        "id": {"type": "string"}, "state": {"type": "string"},
        "outcome": {"type": ["string", "null"]}, "service": {"type": "string"},
        "phone": {"type": "string", "description": "E.164"}, "name": {"type": "string"},
        "centre": {"type": ["string", "null"]}, "terminal": {"type": ["string", "null"]},
        "code": {"type": ["string", "null"],
                 "description": "connection code (caller ID on the desk phone)"},
        "room": {"type": "boolean"}, "failovers": {"type": "integer"},
        "ended_by": {"type": ["string", "null"]},
        "notices": {"type": "array", "items": {"type": "string"}},
        "times": {"type": "object", "additionalProperties": {"type": "number"}}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def spec(title: str, hangup: bool) -> dict[str, Any]:
    """The API's description; `hangup` adds the emulation-only hangup path."""
    paths: dict[str, Any] = {
        "/api/callbacks": {"post": {
            "summary": "Ask for a callback (what the form does)",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["phone", "name", "service", "consent"],
                "properties": {
                    "phone": {"type": "string", "example": "+34 612 345 678",
                              "description": "any common form; normalised to E.164"},
                    "name": {"type": "string", "maxLength": 100},
                    "service": {"type": "string", "description": "a service code of the directory"},
                    "consent": {"type": "boolean", "const": True}}}}}},
            "responses": {
                "201": _json({"type": "object", "properties": {
                    "id": {"type": "string"}, "phone": {"type": "string"},
                    "status_page": {"type": "string"}, "status_socket": {"type": "string"}}},
                    "the callback is under way"),
                "400": _json(_error(), "a field is missing or wrong; `field` names it"),
                "415": _json(_error(), "the body is not JSON"),
                "429": _json(_error(), "too many requests for this number (`field` is "
                             "`phone`) or from this address (`body`); Retry-After says "
                             "when to try again")}}},
        "/api/callbacks/{id}": {"get": {
            "summary": "One callback: its state, outcome, notices and times",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json(_callback(), "the callback"),
                          "404": _json(_error(), "no such callback")}}},
        "/api/rooms": {"get": {
            "summary": "Open rooms and the connection codes in use",
            "security": [{"agentKey": []}],
            "responses": {"200": _json({"type": "object", "properties": {
                "rooms": {"type": "array", "items": {"type": "object"}},
                "codes_in_use": {"type": "array", "items": {"type": "string"}},
                "codes_free": {"type": "integer"}}}, "rooms and codes"),
                "403": _json(_error(), "an agent key is needed")}}},
    }
    if hangup:
        paths["/api/callbacks/{id}/hangup"] = {"post": {
            "summary": "Emulation only: the person's emulated phone hangs up",
            "security": [{"agentKey": []}],
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"202": _json({"type": "object"}, "the phone hangs up"),
                          "404": _json(_error(), "no live call")}}}
    return {"openapi": "3.1.0", "info": {"title": f"{title}: web callback API", "version": "1"},
            "paths": paths,
            "components": {"securitySchemes": {"agentKey": {
                "type": "apiKey", "in": "header", "name": "X-Agent-Key"}}}}
