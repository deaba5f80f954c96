"""The README table: ImmunoSep's primary endpoint (responders, IS-05/IS-06) by arm and endotype, in the virtual
population that ``make run`` (experiments/immunosep.yaml) simulates, against the published numbers and the shipped
posterior's predictive 95% intervals at the published n.

Usage (after ``make run``, which fills the stage cache):
``.venv/bin/python docs/population/immunosep_endpoint_table.py`` (composes ``experiment=immunosep`` and reuses
its cached outcome table; recomputes it when the cache is empty).
Simulated rates: among the screened virtual patients of each measured endotype (ferritin/HLA-DR rule, IS-04), the
share of responders under each arm (every patient is simulated under every arm: the arm's true response rate that
the trials estimate), with its binomial Monte-Carlo SE.
"""

from __future__ import annotations

import arviz as az
import numpy as np

from sepsim.cli import compose_config
from sepsim.config import validate
from sepsim.models.population import default_posterior_path
from sepsim.models.population.fit._likelihood import site_name
from sepsim.pipeline import _outcomes_from_models

ROWS = (  # (target id, endotypes, arm, published responders, published n)
    ("IS-06/MALS/placebo", ("MALS",), "placebo", 4, 23),
    ("IS-06/MALS/anakinra", ("MALS",), "anakinra", 12, 25),
    ("IS-06/immunoparalysis/placebo", ("immunoparalysis",), "placebo", 22, 122),
    ("IS-06/immunoparalysis/ifn_gamma", ("immunoparalysis",), "ifn_gamma", 34, 106),
    ("IS-05/placebo", ("MALS", "immunoparalysis"), "placebo", 26, 145),
    ("IS-05/anakinra+ifn_gamma", ("MALS", "immunoparalysis"), "matched", 46, 131),
)
MATCHED = {"MALS": "anakinra", "immunoparalysis": "ifn_gamma"}


def main() -> None:
    cfg = validate(compose_config(["experiment=immunosep"]))
    table, _ = _outcomes_from_models(cfg)
    endo = np.asarray(table["endotype"].values).astype(str)
    resp = table["responder"]
    idata = az.from_netcdf(default_posterior_path())
    pp = idata.posterior_predictive
    head = (
        "target",
        "endotype, arm",
        "published",
        "simulated (virtual population, MC SE)",
        "posterior pred. 95%",
        "inside",
    )
    print("| " + " | ".join(head) + " |")
    print("|---|---|---|---|---|---|")
    for tid, endos, arm, k, n in ROWS:
        keep = np.isin(endo, endos)
        if arm == "matched":
            r = np.concatenate([resp.sel(arm=MATCHED[e]).values[endo == e] for e in endos])
        else:
            r = resp.sel(arm=arm).values[keep]
        p, m = float(np.mean(r)), r.size
        counts = pp[site_name(tid)].values.ravel()
        lo, hi = np.quantile(counts, [0.025, 0.975])
        inside = "yes" if lo <= k <= hi else "**no**"
        label = f"{' + '.join(endos)}, {arm if arm != 'matched' else 'anakinra / rhIFN-gamma'}"
        sim = f"{100 * p:.1f}% (n={m}, SE {100 * np.sqrt(p * (1 - p) / m):.1f})"
        print(f"| {tid} | {label} | {k}/{n} ({100 * k / n:.1f}%) | {sim} | {lo:.0f}-{hi:.0f}/{n} | {inside} |")


if __name__ == "__main__":
    main()
