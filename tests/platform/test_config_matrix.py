"""Every experiment and every design config composes, validates and plans (no simulation; lightning-hydra-template
style): a renamed key, a design the engine cannot plan or a broken default fails here, not in `make run`."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from sepsim import stage_key
from sepsim.cli import CONF_DIR, compose_config
from sepsim.config import validate
from sepsim.platform import (
    PotentialOutcomes,
    TrialDesign,
    binary_scenario,
    design_from_dict,
    ordinal_scenario,
    outcomes_from_scenario,
    plan_trials,
)
from sepsim.platform._analysis.base import AbstractAnalysis
from sepsim.platform._analysis.factory import make_analysis
from sepsim.platform._design.plan import Plan
from sepsim.platform._engine.domains import DomainsPlan

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
DESIGNS = sorted(p.stem for p in (CONF_DIR / "design").glob("*.yaml"))


def _design(cfg) -> TrialDesign:
    return design_from_dict(OmegaConf.to_container(cfg.design, resolve=True))


def _synthetic_table(design: TrialDesign, n: int = 64) -> PotentialOutcomes:
    """A small table that fits the design's arms, strata and outcome type (what a scenario would give)."""
    key = stage_key(7, "outcomes")
    strata = list(design.strata) if design.strata else None
    if design.analysis.model == "proportional_odds":
        c = int(design.analysis.n_categories or 4)
        probs = [1.0 / c] * c
        return ordinal_scenario(probs, [1.0] * len(design.arms), n, key=key, arms=list(design.arms))
    rates = [0.3] * len(design.arms)
    if strata:
        return binary_scenario([rates] * len(strata), n, key=key, arms=list(design.arms), strata=strata)
    return binary_scenario(rates, n, key=key, arms=list(design.arms))


def test_the_matrix_is_not_empty():
    assert {"adaptr", "immunosep", "calendar_platform", "immunosep_parametric"} <= set(EXPERIMENTS)
    assert {"cytosorb", "design_comparison", "thresholds", "platform"} <= set(EXPERIMENTS)  # issue 12 studies
    assert {"adaptr_3arm", "immunosep", "ordinal_two_arm", "precision_platform"} <= set(DESIGNS)


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_composes_validates_and_plans(name):
    cfg = validate(compose_config([f"experiment={name}"]))
    assert cfg.name == name
    design = _design(cfg)
    if cfg.outcomes == "scenario":
        sc = OmegaConf.to_container(cfg.scenario, resolve=True)
        sc["n_patients"] = 64
        table = outcomes_from_scenario(sc, design, key=stage_key(cfg.seed, "outcomes"))
    else:  # mechanistic: the design planned on a small parametric table with its arms and strata
        table = _synthetic_table(design)
    plan = plan_trials(design, table)
    assert isinstance(plan, DomainsPlan if design.domains else Plan)
    if not design.domains:
        assert plan.n_arms == len(design.arms) and plan.look_n == tuple(design.look_n)
        assert isinstance(make_analysis(design, plan, table), AbstractAnalysis)


@pytest.mark.parametrize("name", DESIGNS)
def test_design_config_builds_and_plans(name):
    cfg = compose_config(["experiment=adaptr", f"design={name}"])  # the parametric base, not the default study
    design = _design(cfg)
    plan = plan_trials(design, _synthetic_table(design))
    if design.domains:
        assert isinstance(plan, DomainsPlan) and len(plan.plans) == len(design.domains)
    else:
        assert isinstance(plan, Plan) and plan.n_max == design.look_n[-1]
        assert isinstance(make_analysis(design, plan, _synthetic_table(design)), AbstractAnalysis)


def test_conf_experiment_links_the_experiments_folder():
    root = Path(__file__).resolve().parents[2]
    assert sorted(p.stem for p in (root / "experiments").glob("*.yaml")) == EXPERIMENTS


def test_every_analysis_class_implements_the_interface():
    import inspect

    import sepsim.platform._analysis as pkg

    found = []
    for mod in ("binary", "normal", "frequentist", "ordinal", "logistic", "hierarchical"):
        m = __import__(f"{pkg.__name__}.{mod}", fromlist=["_"])
        for _, cls in inspect.getmembers(m, inspect.isclass):
            if cls.__module__ == m.__name__ and cls.__name__.endswith("Analysis"):
                assert issubclass(cls, AbstractAnalysis), cls
                assert not inspect.isabstract(cls), f"{cls.__name__} leaves {cls.__abstractmethods__} abstract"
                found.append(cls.__name__)
    assert len(found) == 6, found


def test_abstract_analysis_cannot_be_instantiated_without_the_interface():
    from sepsim.platform._analysis.base import AnalysisNeeds

    class Half(AbstractAnalysis):
        @property
        def needs(self) -> AnalysisNeeds:
            return AnalysisNeeds()

    with pytest.raises(TypeError, match="abstract"):
        Half()
