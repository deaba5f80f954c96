"""Run configuration: structured-config schemas and validation before any work."""

from ._arms import build_arms as build_arms
from ._cross import WORK_LIMIT as WORK_LIMIT
from ._cross import work_estimate as work_estimate
from ._preflight import hydra_error as hydra_error
from ._preflight import preflight as preflight
from ._schema import (
    ArmConfig as ArmConfig,
)
from ._schema import (
    EndpointConfig as EndpointConfig,
)
from ._schema import (
    PopulationConfig as PopulationConfig,
)
from ._schema import (
    RunConfig as RunConfig,
)
from ._schema import (
    RuntimeConfig as RuntimeConfig,
)
from ._schema import (
    ScenarioConfig as ScenarioConfig,
)
from ._validate import to_run_config as to_run_config
from ._validate import validate as validate

__all__ = [
    "ArmConfig",
    "build_arms",
    "EndpointConfig",
    "hydra_error",
    "PopulationConfig",
    "preflight",
    "RunConfig",
    "RuntimeConfig",
    "ScenarioConfig",
    "to_run_config",
    "validate",
    "WORK_LIMIT",
    "work_estimate",
]
