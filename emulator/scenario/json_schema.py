"""The JSON Schema of scenario files, from the schema's own models.

Every field type says what a file may write (`300ms` as well as 0.3, a
distribution as a mapping of one kind), unknown keys are refused
(`additionalProperties: false`), defaults are given as a file writes them.
Editors with a YAML language server complete and check scenario files with it.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from .fields import yaml_form
from .schema import Scenario

DIALECT = "https://json-schema.org/draft/2020-12/schema"


class _Generator(GenerateJsonSchema):
    """pydantic's generator, with defaults written as a scenario file writes them."""

    def encode_default(self, dft: Any) -> Any:
        return super().encode_default(yaml_form(dft))

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        try:
            return super().default_schema(schema)
        except Exception:       # noqa: BLE001 - a default JSON cannot show is left out
            return self.generate_inner(schema["schema"])


def scenario_schema() -> dict[str, Any]:
    """The whole schema, one document."""
    schema = Scenario.model_json_schema(schema_generator=_Generator, mode="validation")
    return {"$schema": DIALECT, "$id": "https://callback-emulator.invalid/scenario.schema.json",
            "title": "callback-emulator scenario",
            "description": "A scenario file of callback-emulator (docs/scenario-format.md).",
            **{k: v for k, v in schema.items() if k != "title"}}
