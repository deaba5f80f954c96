"""NumPy/scipy reference solution of the patient model (tests and benchmarks; not on the hot path).

Integrates the same equations (:func:`production_loss` with ``xp=numpy``) in *physical* units, so it also checks
the log-space transformation used by the diffrax solver.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from ._effects import Clearances, Effects
from ._patient_rhs import N_PHYSIOLOGICAL, T_START, hazards, initial_state, production_loss, to_physical

__all__ = ["numpy_params", "numpy_rhs", "reference_solve", "ZERO_EFFECTS"]

ZERO_EFFECTS = Effects(Clearances(0.0, 0.0, 0.0, 0.0, 0.0), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def numpy_params(params: Any) -> Any:
    """A PatientParams of Python floats (one patient)."""
    return type(params)(*(float(np.asarray(v)) for v in params))


def numpy_rhs(t: float, x: np.ndarray, p: Any, hazards_on: bool) -> np.ndarray:
    """Physical-unit RHS of (physiological states, Lambda_death, Lambda_infection) under placebo (``x`` includes
    the two hazards: the ICU-acquired infection switch reads ``Lambda_infection``)."""
    prod, loss = production_loss(t, x, p, ZERO_EFFECTS, xp=np)
    dx = np.array(prod) - np.array(loss) * x[:N_PHYSIOLOGICAL]
    hd, hi = hazards(x, p, xp=np)
    on = 1.0 if hazards_on else 0.0
    return np.concatenate([dx, [on * hd, on * hi]])


def reference_solve(
    params: Any, t_eval: np.ndarray, *, method: str = "Radau", rtol: float = 1e-10, atol: float = 1e-14
) -> tuple[np.ndarray, int]:
    """Placebo course of one patient at ``t_eval`` (hours, >= 0) with scipy ``solve_ivp``.

    Integrates [T_START, 0] without hazards and [0, t_eval[-1]] with hazards (the hazard switch at
    randomisation is a discontinuity). Returns (states [t, 17] in physical units, number of RHS evaluations).
    """
    p = numpy_params(params)
    x0 = np.asarray(to_physical(initial_state(params)), dtype=np.float64)  # the model's own start, physical units
    kw = dict(method=method, rtol=rtol, atol=atol)
    a = solve_ivp(numpy_rhs, (T_START, 0.0), x0, args=(p, False), **kw)
    if not a.success:
        raise RuntimeError(a.message)
    b = solve_ivp(numpy_rhs, (0.0, float(t_eval[-1])), a.y[:, -1], args=(p, True), t_eval=t_eval, **kw)
    if not b.success:
        raise RuntimeError(b.message)
    return b.y.T, int(a.nfev + b.nfev)
