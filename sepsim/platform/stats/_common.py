"""Helpers shared by the JAX analyses: dtype casting, p-values from z, result containers."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from jax.scipy.special import erfc
from jaxtyping import Array, ArrayLike, Float

from ..._errors import ConfigError

__all__ = ["TestResult", "as_float", "z_p_value", "check_alternative", "ALTERNATIVES"]

ALTERNATIVES = ("greater", "less", "two-sided")
_SQRT2 = 1.4142135623730951


class TestResult(NamedTuple):
    """A test statistic and its p-value (arrays of the broadcast input shape).

    Attributes:
        statistic: the test statistic (signed so that positive favours ``treatment > control`` where it has a sign).
        p_value: the p-value under the chosen alternative.
    """

    __test__ = False  # not a pytest test class

    statistic: Float[Array, "..."]
    p_value: Float[Array, "..."]


def as_float(x: ArrayLike) -> Float[Array, "..."]:
    """Cast to the default float dtype (float64 when x64 is enabled) explicitly, for strict dtype promotion."""
    return jnp.asarray(x).astype(jnp.result_type(float))


def check_alternative(alternative: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ConfigError("alternative", f"must be one of {ALTERNATIVES}, got {alternative!r}")


def z_p_value(z: Float[Array, "..."], alternative: str) -> Float[Array, "..."]:
    """Normal p-value of ``z``: ``greater`` is P(Z >= z), ``less`` P(Z <= z), ``two-sided`` P(|Z| >= |z|)."""
    check_alternative(alternative)
    if alternative == "greater":
        return 0.5 * erfc(z / _SQRT2)
    if alternative == "less":
        return 0.5 * erfc(-z / _SQRT2)
    return erfc(jnp.abs(z) / _SQRT2)
