"""How tightly one patient's biomarkers pin its Fit 2 parameters, against the population sd's prior.

For prior draws of the Fit 2 SBC model (every biomarker at 0, 12, 24 h), the Laplace standard error ``w`` of each
patient's log ``a_il10`` and log ``k_il6`` from its own likelihood (Fisher information ``J' J / sigma^2`` at the
true value, by reverse mode through the ODE), and the probability ``P(sd < w)`` under the ``HalfNormal(s0)`` prior of
the population sd: where ``sd < w`` the centred hierarchy is a funnel (README_population.md, "Fit 2").

Usage: ``python docs/population/fit2_precision.py [N_DRAWS] [SEED]`` (defaults 60, 3).
"""

from __future__ import annotations

import sys

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from sepsim.models.population.fit_data._model import DATA_FITTED, _prior
from sepsim.models.population.fit_data._observations import predict_log_states
from sepsim.models.population.fit_data._sbc import Fit2SbcConfig, sbc_template, simulate_replicates

jax.config.update("jax_enable_x64", True)


def main(n: int, seed: int) -> None:
    cfg = Fit2SbcConfig()
    c0, s0 = _prior(DATA_FITTED)
    one = sbc_template(1, cfg.schedule_h)
    sim, _ = simulate_replicates(sbc_template(2, cfg.schedule_h), n, jax.random.key(seed), solver=cfg.solver)
    theta = jnp.asarray(sim["theta"].reshape(-1, len(DATA_FITTED)))

    def jac(t: jax.Array) -> jax.Array:
        return jax.jacrev(lambda u: predict_log_states(jnp.exp(u)[None], DATA_FITTED, one, cfg.solver)[0][0])(t)

    j = np.asarray(jax.jit(jax.vmap(jac))(theta)) / np.asarray(one.sigma[0])[None, :, None]
    cov = np.linalg.inv(np.einsum("noi,noj->nij", j, j))
    w = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    print(f"{len(w)} patients from {n} prior draws (seed {seed}), biomarkers at {cfg.schedule_h} h")
    print("parameter   s0     w: 10%    25%    50%    75%    90%   P(sd < median w | HalfNormal(s0))")
    for k, name in enumerate(DATA_FITTED):
        q = np.quantile(w[:, k], [0.1, 0.25, 0.5, 0.75, 0.9])
        p = 2 * stats.norm.cdf(q[2] / s0[k]) - 1
        print(f"{name:10s} {s0[k]:.3f}  " + "  ".join(f"{v:.3f}" for v in q) + f"   {p:.3f}")
    r = cov[:, 0, 1] / (w[:, 0] * w[:, 1])
    print(f"median correlation of the two estimates within a patient: {np.median(r):.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60, int(sys.argv[2]) if len(sys.argv) > 2 else 3)
