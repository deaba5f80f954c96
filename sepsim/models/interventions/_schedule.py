"""Dosing and device-session schedules as explicit functions of time.

Everything here is a pure JAX function of ``t`` (hours from randomisation) with discontinuities only at the times that
:meth:`DoseSchedule.jump_times` / :meth:`Windows.jump_times` list, so that diffrax's step controller can be told about
them (``jump_ts``).

* IV doses are zero-order infusions of a stated duration: input rate ``amount / duration`` on ``[t_i, t_i + dur)``.
* SC / IM doses enter a first-order absorption depot. The depot is linear and receives only bolus doses, so it is
  solved exactly: the bioavailable depot amount is ``sum_i F * amount * exp(-ka (t - t_i))`` for ``t >= t_i`` and the
  absorption rate into the central compartment is ``ka`` times that. No ODE state is needed for the depot, and the
  bolus (a jump in the depot amount) never has to be applied to an ODE state.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

__all__ = ["DoseSchedule", "Windows", "regular_times"]


def _f(x) -> Array:
    return jnp.asarray(x, dtype=jnp.result_type(float))


def regular_times(interval_h: float, n: int, start_h: float = 0.0) -> tuple[float, ...]:
    """``n`` dose times ``start, start + interval, ...`` in hours, as a static tuple."""
    return tuple(float(start_h + i * interval_h) for i in range(int(n)))


class DoseSchedule(eqx.Module):
    """When doses are given and how they enter the body.

    Attributes:
        times: dose times, h from randomisation (static).
        amounts: amount of each dose in the drug's amount unit (static, same length as ``times``).
        route: ``"iv"`` (zero-order infusion over ``duration_h``) or ``"sc"`` / ``"im"`` (first-order depot).
        duration_h: IV infusion duration, h (ignored for depot routes).
    """

    times: tuple[float, ...] = eqx.field(static=True)
    amounts: tuple[float, ...] = eqx.field(static=True)
    route: str = eqx.field(static=True, default="iv")
    duration_h: float = eqx.field(static=True, default=0.5)

    def __check_init__(self):
        if len(self.times) != len(self.amounts):
            raise ValueError("times and amounts must have the same length")
        if self.route not in ("iv", "sc", "im"):
            raise ValueError(f"route must be 'iv', 'sc' or 'im', got {self.route!r}")
        if self.route == "iv" and not self.duration_h > 0:
            raise ValueError("IV infusions need duration_h > 0")

    @property
    def is_depot(self) -> bool:
        return self.route in ("sc", "im")

    def jump_times_np(self) -> np.ndarray:
        """Times where the input rate is discontinuous (infusion starts and stops; depot doses), as NumPy."""
        t = np.asarray(self.times, dtype=float)
        if not self.is_depot:
            t = np.concatenate([t, t + self.duration_h])
        return np.unique(t)

    def jump_times(self) -> Float[Array, " m"]:
        return _f(self.jump_times_np())

    def total(self, scale: Float[Array, ""] | float = 1.0) -> Float[Array, ""]:
        """Total amount given (times ``scale``, e.g. body weight for per-kg doses)."""
        return _f(sum(self.amounts)) * scale

    def infusion_rate(self, t: Float[Array, ""], scale: Float[Array, ""] | float = 1.0) -> Float[Array, ""]:
        """IV input rate at ``t`` (amount/h); zero for depot routes."""
        if self.is_depot or not self.times:
            return _f(0.0)
        ti, amt = _f(self.times), _f(self.amounts)
        on = (t >= ti) & (t < ti + self.duration_h)
        return jnp.sum(jnp.where(on, amt / self.duration_h, 0.0)) * scale

    def depot_amount(
        self, t: Float[Array, ""], ka: Float[Array, ""], f: Float[Array, ""], scale: Float[Array, ""] | float = 1.0
    ) -> Float[Array, ""]:
        """Bioavailable amount still in the depot at ``t`` (exact solution of the linear depot)."""
        if not self.is_depot or not self.times:
            return _f(0.0)
        ti, amt = _f(self.times), _f(self.amounts)
        dt = jnp.maximum(t - ti, 0.0)
        return jnp.sum(jnp.where(t >= ti, f * amt * jnp.exp(-ka * dt), 0.0)) * scale

    def absorption_rate(
        self, t: Float[Array, ""], ka: Float[Array, ""], f: Float[Array, ""], scale: Float[Array, ""] | float = 1.0
    ) -> Float[Array, ""]:
        """Rate of absorption from the depot into the central compartment at ``t`` (amount/h)."""
        return ka * self.depot_amount(t, ka, f, scale)

    def input_rate(
        self, t: Float[Array, ""], ka: Float[Array, ""], f: Float[Array, ""], scale: Float[Array, ""] | float = 1.0
    ) -> Float[Array, ""]:
        """Total input into the central compartment at ``t`` (amount/h), whatever the route."""
        if self.is_depot:
            return self.absorption_rate(t, ka, f, scale)
        return self.infusion_rate(t, scale)


class Windows(eqx.Module):
    """Non-overlapping time windows ``[start_i, stop_i)`` (device sessions, one per cartridge), in hours."""

    starts: tuple[float, ...] = eqx.field(static=True)
    stops: tuple[float, ...] = eqx.field(static=True)

    def __check_init__(self):
        if len(self.starts) != len(self.stops):
            raise ValueError("starts and stops must have the same length")
        s, e = np.asarray(self.starts, dtype=float), np.asarray(self.stops, dtype=float)
        if np.any(e <= s) or np.any(s[1:] < e[:-1]):
            raise ValueError("windows must be non-empty, sorted and non-overlapping")

    @property
    def n(self) -> int:
        return len(self.starts)

    def active(self, t: Float[Array, ""]) -> Float[Array, " n"]:
        """1.0 for the window containing ``t``, 0.0 elsewhere (shape ``(n,)``)."""
        s, e = _f(self.starts), _f(self.stops)
        return jnp.where((t >= s) & (t < e), 1.0, 0.0)

    def jump_times_np(self) -> np.ndarray:
        return np.unique(np.concatenate([np.asarray(self.starts, float), np.asarray(self.stops, float)]))

    def jump_times(self) -> Float[Array, " m"]:
        return _f(self.jump_times_np())

    @classmethod
    def continuous(cls, duration_h: float, changes_h: tuple[float, ...]) -> Windows:
        """One run from 0 to ``duration_h`` with cartridge changes at ``changes_h`` (each change starts a window)."""
        cuts = [0.0] + [float(c) for c in changes_h if 0.0 < c < duration_h] + [float(duration_h)]
        return cls(tuple(cuts[:-1]), tuple(cuts[1:]))

    @classmethod
    def daily_sessions(cls, hours_per_day: float, n_days: int, first_start_h: float = 0.0) -> Windows:
        """``n_days`` sessions of ``hours_per_day`` starting every 24 h (one cartridge per session)."""
        starts = tuple(first_start_h + 24.0 * d for d in range(int(n_days)))
        return cls(starts, tuple(s + hours_per_day for s in starts))
