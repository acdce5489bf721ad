"""The API's OpenAPI 3.1 description, served at /api/openapi.json.

Every operation lists every status it can answer and the security it asks
for; every error is the same JSON object (`error`, `field`), a server error
(500) included. The answers' objects list the keys they always carry, and
states, outcomes and notices are the flow's own names. A request property
marked `x-server-checks` has a rule the schema cannot state (whether a
number may be called, say): a request the schema allows may still get a 400
naming that property, and no other (tests/test_api_fuzz.py holds the server
to all of this).
"""

from __future__ import annotations

from typing import Any, Iterable

from ..flow import Notice, Outcome, Role, State

# Who may call the agents' operations: a signed-in session (the agent page's
# cookie), an account's name and password (HTTP Basic), or demo mode's key.
_AGENT_SCHEMES = ("agentSession", "agentLogin", "agentKey")


def _agent() -> list[dict[str, list[str]]]:
    return [{scheme: []} for scheme in _AGENT_SCHEMES]


def _error() -> dict[str, Any]:
    return {"type": "object", "required": ["error", "field"], "properties": {
        "error": {"type": "string"},
        "field": {"type": ["string", "null"], "description": "the request field at fault"}}}


def _names(values: Iterable[Any], nullable: bool = False) -> dict[str, Any]:
    """A string of one enum's values (or null)."""
    names: list[Any] = [v.value for v in values]
    return {"type": ["string", "null"], "enum": [*names, None]} if nullable \
        else {"type": "string", "enum": names}


def _callback() -> dict[str, Any]:
    return {"type": "object", "required": list(_CALLBACK_KEYS), "properties": {
        "id": {"type": "string"}, "state": _names(State),
        "outcome": _names(Outcome, nullable=True), "service": {"type": "string"},
        "phone": {"type": "string", "description": "E.164, masked: the first four and last "
                                                     "three characters shown"},
        "name": {"type": "string"},
        "centre": {"type": ["string", "null"]}, "terminal": {"type": ["string", "null"]},
        "code": {"type": ["string", "null"],
                 "description": "connection code (caller ID on the desk phone)"},
        "room": {"type": "boolean"}, "failovers": {"type": "integer", "minimum": 0},
        "ended_by": _names(Role, nullable=True),
        "agent": {"type": ["string", "null"],
                  "description": "the signed-in agent who typed the code"},
        "notices": {"type": "array", "items": _names(Notice)},
        "attempts": {"type": "integer", "minimum": 0, "description": "calls made to the person"},
        "next_call": {"type": ["string", "null"],
                      "description": "when the next call comes (ISO 8601), if it waits"},
        "times": {"type": "object", "additionalProperties": {"type": "number"}}}}


_CALLBACK_KEYS = ("id", "state", "outcome", "service", "phone", "name", "centre", "terminal",
                  "code", "room", "failovers", "ended_by", "agent", "notices", "attempts",
                  "next_call", "times")


def _placed() -> dict[str, Any]:
    return {"type": "object", "required": ["id", "phone", "duplicate", "status_token",
                                           "status_page", "status_socket", "status_api"],
            "properties": {
        "id": {"type": "string"}, "phone": {"type": "string"},
        "duplicate": {"type": "boolean"},
        "status_token": {"type": "string", "description": "opens the status page and GET "
                                                           "/api/callbacks/{id}: keep it secret"},
        "status_page": {"type": "string"}, "status_socket": {"type": "string"},
        "status_api": {"type": "string"}}}


def _room() -> dict[str, Any]:
    return {"type": "object", "required": ["room", "callback", "code", "template", "open",
                                           "present", "agent", "documents"], "properties": {
        "room": {"type": "string"}, "callback": {"type": "string"}, "code": {"type": "string"},
        "template": {"type": "string"}, "open": {"type": "boolean"},
        "present": {"type": "array", "items": {"type": "string", "enum": ["agent", "person"]}},
        "agent": {"type": ["string", "null"],
                  "description": "the signed-in agent whose page joined the room"},
        "documents": {"type": "integer"}}}


def _json(schema: dict[str, Any], description: str,
          headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description,
                              "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _retry() -> dict[str, Any]:
    return {"Retry-After": {"description": "seconds to wait", "required": True,
                            "schema": {"type": "integer", "minimum": 1}}}


def _agent_errors() -> dict[str, Any]:
    return {"403": _json(_error(), "agent credentials are needed, or the ones sent are wrong"),
            "429": _json(_error(), "too many failed sign-ins from this address or for this "
                         "name: Retry-After says when to try again", _retry()),
            "500": _json(_error(), "a server error (never a traceback)")}


def _id() -> dict[str, Any]:
    return {"name": "id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}}


def _request() -> dict[str, Any]:
    return {"type": "object", "required": ["phone", "name", "service", "consent"],
            # A time or a delay, never both.
            "not": {"required": ["schedule", "schedule_in"]},
            "properties": {
                "phone": {"type": "string", "minLength": 1, "maxLength": 40,
                          "example": "+34 612 345 678",
                          "description": "any common form; normalised to E.164",
                          "x-server-checks": "a valid number of a country and kind the "
                                             "deployment calls, not one of its own"},
                "name": {"type": "string", "minLength": 1, "maxLength": 100, "example": "Ana",
                         "x-server-checks": "control characters are dropped and spaces "
                                            "trimmed: something must be left"},
                "service": {"type": "string", "description": "a service code of the directory"},
                "consent": {"type": "boolean", "const": True},
                "schedule": {"type": "string", "format": "date-time",
                             "description": "call me then (a time of an open slot; "
                                            "ISO 8601 with its offset)",
                             "x-server-checks": "from now to 30 days ahead, in an open slot"},
                "schedule_in": {"type": "number", "minimum": 0, "maximum": 2592000,
                                "description": "call me in this many seconds",
                                "x-server-checks": "the calendar may have no slot then"}}}


def _new_time() -> dict[str, Any]:
    times = _request()["properties"]
    return {"type": "object", "not": {"required": ["schedule", "schedule_in"]},
            "anyOf": [{"required": ["schedule"]}, {"required": ["schedule_in"]}],
            "properties": {"schedule": times["schedule"], "schedule_in": times["schedule_in"]}}


def spec(title: str, hangup: bool, services: Iterable[str] = (),
         directory: bool = False) -> dict[str, Any]:
    """The API's description; `hangup` adds the emulation-only hangup path, `services` (the
    directory's codes) are the values a request's `service` may take, `directory` adds the
    agents' directory API (a system that keeps its directory in the database)."""
    request = _request()
    if services:
        request["properties"]["service"]["enum"] = sorted(services)
    paths: dict[str, Any] = {
        "/api/callbacks": {"post": {
            "summary": "Ask for a callback (what the form does)",
            "description": "Only numbers of the countries and kinds the deployment calls "
                           "(by default the service's country, fixed and mobile: never "
                           "premium-rate, shared-cost, satellite or the system's own desk "
                           "phones). The body is limited in size (413) and in how deep it "
                           "nests (400, `body`).",
            "requestBody": {"required": True,
                            "content": {"application/json": {"schema": request}}},
            "responses": {
                "201": _json(_placed(), "the callback is under way (or scheduled)"),
                "200": _json(_placed(), "a duplicate: the number already has a live or pending "
                             "callback for the service, whose id and links these are"),
                "503": _json(_error(), "the system is stopping or its records store lags "
                             "behind: nothing was placed; Retry-After says when to try again",
                             _retry()),
                "400": _json(_error(), "a field is missing or wrong (`field` names it), or the "
                             "body is not a JSON object, not UTF-8, or nested too deeply "
                             "(`body`)"),
                "413": _json(_error(), "the body is too big (`body`)"),
                "415": _json(_error(), "the body is not JSON"),
                "429": _json(_error(), "too many requests for this number (`field` is "
                             "`phone`) or from this address (`body`); Retry-After says "
                             "when to try again", _retry()),
                "500": _json(_error(), "a server error (never a traceback)")}}},
        "/api/callbacks/{id}": {"get": {
            "summary": "One callback: its state, outcome, notices and times (number masked)",
            "description": "For the person, with the status token the callback was given "
                           "(`token`, or the X-Status-Token header); or for an agent.",
            "parameters": [_id(), {"name": "token", "in": "query", "required": False,
                                   "schema": {"type": "string"},
                                   "description": "the callback's status token"}],
            "security": [{"statusToken": []}, {"statusTokenHeader": []}, *_agent()],
            "responses": {"200": _json(_callback(), "the callback"),
                          "404": _json(_error(), "no such callback, or the token is not "
                                       "its own"),
                          **_agent_errors()}},
            "delete": {
                "summary": "Cancel a callback (the person, with its status token)",
                "description": "Nothing more is dialled and a call not yet answered is hung "
                               "up; a call already answered goes on.",
                "parameters": [_id(), {"name": "token", "in": "query", "required": False,
                                       "schema": {"type": "string"}}],
                "security": [{"statusToken": []}, {"statusTokenHeader": []}],
                "responses": {"200": _json({"type": "object", "properties": {
                    "id": {"type": "string"}, "cancelled": {"type": "boolean"},
                    "live": {"type": "boolean"}, "outcome": {"type": ["string", "null"]}}},
                    "whether it was cancelled (false: already answered, or over)"),
                    "404": _json(_error(), "no such callback, or the token is not its own"),
                    "500": _json(_error(), "a server error (never a traceback)")}},
            "patch": {
                "summary": "Another time for the call the person waits for (status token)",
                "description": "For a callback waiting for a time asked for, or for its next "
                               "call after one that failed: the calendar places it again "
                               "(opening hours, slots with room, the person's calling hours).",
                "parameters": [_id(), {"name": "token", "in": "query", "required": False,
                                       "schema": {"type": "string"}}],
                "security": [{"statusToken": []}, {"statusTokenHeader": []}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _new_time()}}},
                "responses": {"200": _json({"type": "object", "properties": {
                    "id": {"type": "string"}, "rescheduled": {"type": "boolean"},
                    "next_call": {"type": ["string", "null"], "format": "date-time"}}},
                    "the call's new time, as the calendar placed it"),
                    "400": _json(_error(), "no time, a bad one, or one out of range "
                                 "(`field` names it), or a body that is not a JSON object"),
                    "404": _json(_error(), "no such callback, or the token is not its own"),
                    "409": _json(_error(), "it waits for no call: being called, or over"),
                    "413": _json(_error(), "the body is too big (`body`)"),
                    "415": _json(_error(), "the body is not JSON"),
                    "500": _json(_error(), "a server error (never a traceback)")}}},
        "/api/rooms": {"get": {
            "summary": "Open rooms and the connection codes in use",
            "security": _agent(),
            "responses": {"200": _json({"type": "object", "properties": {
                "rooms": {"type": "array", "items": _room()},
                "codes_in_use": {"type": "array", "items": {"type": "string"}},
                "codes_free": {"type": "integer"}}}, "rooms and codes"),
                **_agent_errors()}}},
    }
    if directory:
        from .directory_openapi import paths as directory_paths   # it reads this module's parts
        paths.update(directory_paths())
    if hangup:
        paths["/api/callbacks/{id}/hangup"] = {"post": {
            "summary": "Emulation only: the person's emulated phone hangs up",
            "security": _agent(),
            "parameters": [_id()],
            "responses": {"202": _json({"type": "object", "properties": {
                "id": {"type": "string"}, "hung_up": {"type": "boolean"}}}, "the phone hangs up"),
                "404": _json(_error(), "no live call"),
                **_agent_errors()}}}
    return {"openapi": "3.1.0", "info": {"title": f"{title}: web callback API", "version": "2"},
            "paths": paths,
            "components": {"securitySchemes": {
                "agentSession": {"type": "apiKey", "in": "cookie", "name": "agent",
                                 "description": "the agent page's session"},
                "agentLogin": {"type": "http", "scheme": "basic",
                               "description": "an agent account's name and password"},
                "agentKey": {"type": "apiKey", "in": "header", "name": "X-Agent-Key",
                             "description": "demo mode's shared key"},
                "statusToken": {"type": "apiKey", "in": "query", "name": "token"},
                "statusTokenHeader": {"type": "apiKey", "in": "header",
                                      "name": "X-Status-Token"}}}}
