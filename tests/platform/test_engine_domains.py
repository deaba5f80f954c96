"""Factorial platforms (``design.domains``): independent randomisation per domain, marginal analyses, a stopped
domain keeping its winner, chunk independence, and type-I error of a null domain against a single-domain run."""

import numpy as np
import pytest

from sepsim._errors import ConfigError
from sepsim._keys import stage_key
from sepsim.platform import binary_scenario, design_from_dict, domain_combinations, run_trials

IMMUNO = dict(
    name="immuno",
    arms=["placebo", "anakinra", "ifng"],
    control="placebo",
    allocation=dict(rule="thompson", min_prob=0.15),
    stopping=dict(superiority=0.99, inferiority=0.01),
)
# fixed 1:1 in the adsorber domain: its type-I error is then unaffected by the drift in mortality that the
# immunomodulation domain's RAR causes when an immunomodulator works (see README_engine.md)
ADSORBER = dict(
    name="adsorber",
    arms=["none", "cytosorb"],
    control="none",
    allocation=dict(rule="fixed"),
    stopping=dict(superiority=0.95, inferiority=0.05),
)
LOOKS = [150, 300, 450, 600]
FACTORIAL = dict(look_n=LOOKS, higher_is_better=False, domains=[IMMUNO, ADSORBER])
COMBOS = domain_combinations(design_from_dict(FACTORIAL).domains)
N_TRIALS = 2000


def _table(immuno_effect, adsorber_effect, seed):
    """28-day mortality 0.35, lowered additively (no interaction) by anakinra and by CytoSorb."""
    rates = [
        0.35 - (immuno_effect if c.startswith("anakinra") else 0.0) - (adsorber_effect if "cytosorb" in c else 0.0)
        for c in COMBOS
    ]
    return binary_scenario(rates, 30_000, key=stage_key(seed, "cohort"), arms=COMBOS)


@pytest.fixture(scope="module")
def adsorber_works():  # immuno domain null, CytoSorb lowers mortality by 0.12
    out = _table(0.0, 0.12, 21)
    return out, run_trials(out, FACTORIAL, n_trials=N_TRIALS, key=stage_key(22, "trials"), chunk_size=1000)


@pytest.fixture(scope="module")
def anakinra_works():  # adsorber domain null, anakinra lowers mortality by 0.12 (same compiled function)
    out = _table(0.12, 0.0, 23)
    return run_trials(out, FACTORIAL, n_trials=N_TRIALS, key=stage_key(24, "trials"), chunk_size=1000)


def test_combinations_and_marginal_counts(adsorber_works):
    _, ds = adsorber_works
    assert COMBOS == [
        "placebo+none", "placebo+cytosorb", "anakinra+none", "anakinra+cytosorb", "ifng+none", "ifng+cytosorb"
    ]  # fmt: skip
    nc = ds.n_combination.values.reshape(-1, 3, 2)
    nf = ds.n_final.values
    np.testing.assert_array_equal(nf[:, 0, :3], nc.sum(axis=2))
    np.testing.assert_array_equal(nf[:, 1, :2], nc.sum(axis=1))
    np.testing.assert_array_equal(nf[:, 1, 2], 0)  # padding
    assert list(ds.arm_name.values[1]) == ["none", "cytosorb", ""]
    np.testing.assert_array_equal(nc.sum(axis=(1, 2)), ds.n_total.values)


def test_allocation_follows_own_domain_effect_only(adsorber_works, anakinra_works):
    _, ds_a = adsorber_works
    ds_b = anakinra_works

    def mean_se(ds, arm, other, look):
        x = ds.alloc_prob.sel(look=look, domain="immuno").values
        d = x[:, arm] - x[:, other]
        return d.mean(), d.std(ddof=1) / np.sqrt(d.size)

    # The immuno domain's two active arms are exchangeable when neither works, whatever the adsorber does: equal
    # mean allocation within 3 MC SE (the control is not exchangeable with them: superiority drops it).
    for look in (0, 1):
        m, se = mean_se(ds_a, 1, 2, look)
        assert abs(m) < 3 * se, (look, m, se)
        m, se = mean_se(ds_b, 1, 2, look)  # when anakinra works, it is favoured
        assert m > 0.15 and m > 10 * se, (look, m, se)


def test_stopped_domain_keeps_its_winner(adsorber_works):
    _, ds = adsorber_works
    out = ds.domain_outcome.sel(domain="adsorber").values
    s_look = ds.domain_stop_look.sel(domain="adsorber").values
    sel = np.flatnonzero((out == 1) & (s_look < ds.trial_stop_look.values))
    assert sel.size > 100
    n = ds.n.sel(domain="adsorber").values  # (trial, look, arm)
    for t in sel[:200]:
        s = s_look[t]
        assert ds.domain_superior_arm.sel(domain="adsorber").values[t] == 1
        assert np.all(n[t, s:, 0] == n[t, s, 0])  # nobody more gets "none"
        assert ds.n_final.sel(domain="adsorber").values[t, 0] == n[t, s, 0]
        assert np.all(
            ds.alloc_prob.sel(domain="adsorber").values[t, s:-1, 1][: ds.trial_stop_look.values[t] - s] == 1.0
        )


def test_chunk_independence(adsorber_works):
    out, ds = adsorber_works
    part = run_trials(out, FACTORIAL, n_trials=1000, key=stage_key(22, "trials"), start=500, chunk_size=1000)
    ref = ds.sel(trial=slice(500, 1499))  # these trials spanned two chunks of the first run
    for name in ("n", "events", "alloc_prob", "domain_outcome", "n_combination", "trial_stop_look"):
        np.testing.assert_array_equal(part[name].values, ref[name].values, err_msg=name)


@pytest.mark.slow
def test_null_domain_type1_matches_single_domain_run(anakinra_works):
    """With no interaction, the null adsorber domain's P(superiority) (while anakinra works in the other domain)
    equals that of the same design run alone at the domain's average mortality, within 3 combined MC SE."""
    ds = anakinra_works
    ads = ds.sel(domain="adsorber")
    p_fact = np.mean(ads.domain_outcome.values == 1)
    rate = float(ads.events_final.sum() / ads.n_final.sum())
    single = dict(
        arms=ADSORBER["arms"],
        control="none",
        look_n=LOOKS,
        higher_is_better=False,
        allocation=ADSORBER["allocation"],
        stopping=ADSORBER["stopping"],
    )
    out1 = binary_scenario([rate] * 2, 30_000, key=stage_key(25, "cohort"), arms=ADSORBER["arms"])
    ds1 = run_trials(out1, single, n_trials=N_TRIALS, key=stage_key(26, "trials"))
    p_single = np.mean(ds1.trial_outcome.values == 1)
    se = np.sqrt(p_fact * (1 - p_fact) / N_TRIALS + p_single * (1 - p_single) / N_TRIALS)
    assert 0.03 < p_single < 0.5  # the comparison has power to see a difference
    assert abs(p_fact - p_single) < 3 * se, (p_fact, p_single, se)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (dict(control="placebo+none"), "design.domains"),
        (dict(arms=["a", "b"]), "design.arms"),
        (dict(domains=[IMMUNO, dict(ADSORBER, name="immuno")]), "design.domains"),
        (dict(domains=[IMMUNO, dict(ADSORBER, arms=["none", "cyto+sorb"])]), r"design.domains\[1\].arms"),
        (dict(domains=[IMMUNO, dict(ADSORBER, control="x")]), r"design.domains\[1\].control"),
        (dict(domains=[IMMUNO, dict(ADSORBER, colour=1)]), r"design.domains\[1\].colour"),
        (dict(domains=[IMMUNO, dict(ADSORBER, stopping=dict(futility_prob=0.9))]), r"domains\[1\].stopping"),
        (dict(enrolment=dict(accrual_per_day=2.0)), "design.domains"),
        (dict(analysis=dict(method="frequentist")), "design.analysis.method"),
    ],
)
def test_domain_validation(change, key):
    with pytest.raises(ConfigError, match=key):
        design_from_dict(dict(FACTORIAL, **change))


def test_table_must_hold_the_combinations():
    out = binary_scenario([0.3] * 3, 100, key=stage_key(0, "cohort"), arms=IMMUNO["arms"])
    with pytest.raises(ConfigError, match="design.domains"):
        run_trials(out, FACTORIAL, n_trials=2, key=stage_key(0, "trials"))
