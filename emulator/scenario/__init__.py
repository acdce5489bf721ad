"""Scenario files: the schema, loading with errors that name file, line and key,
cross-reference checks, and `build` (a scenario -> the models' plain arguments).

The only package of the project that knows YAML and pydantic; models never
import it.
"""

from .errors import ScenarioError
from .files import scenario_files
from .loading import LoadedScenario, load, loads
from .schema import (AgentSpec, Arrivals, CallbackSpec, CallExpectation, Centre, MetricExpectation,
                     Network, PersonSpec, Rooms, Scenario)

__all__ = ["ScenarioError", "scenario_files", "LoadedScenario", "load", "loads", "AgentSpec",
           "Arrivals", "CallbackSpec", "CallExpectation", "Centre", "MetricExpectation",
           "Network", "PersonSpec", "Rooms", "Scenario"]
