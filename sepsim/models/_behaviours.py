"""Reference parameter sets for the qualitative behaviours of the patient model (tests and figures).

Each entry overrides the reference patient of ``patient.yaml``. Outcomes (checked in
``tests/models/test_patient_behaviours.py``): health/resolution; septic death (pathogen persists: fast growth,
ineffective antibiotics); aseptic death (damage persists after clearance: weak IL-10 brake, high damage
susceptibility, slow repair, Reynolds 2006); MALS (runaway IL-1-driven macrophage activation, ferritin > 4420 ng/mL)
in two courses: persistent (very high IL-1 gain with a weak IL-10 brake: the loop outlasts macrophage tolerance)
and resolving (the slow tolerance state switches the loop off within days); immunoparalysis (IL-10-dominated:
HLA-DR < 5000 AB/C, lymphopenia, persistent infection).
"""

from __future__ import annotations

__all__ = ["BEHAVIOURS"]

BEHAVIOURS: dict[str, dict[str, float]] = {
    "health": {"h0": 26000.0},  # reference patient with robust HLA-DR expression (unclassified at screening)
    "septic_death": {"kpg": 0.6, "k_abx": 0.01},
    "aseptic_death": {"a_il10": 8.0, "kdn": 0.8, "mud": 0.015},
    "mals": {"a_il1": 300.0, "a_il10": 12.0, "x_il10": 30.0},  # persistent MALS (most placebo MALS courses)
    "mals_resolving": {"a_il1": 250.0},  # MALS at screening, resolved by tolerance (IS-06: 4/23 placebo responders)
    "immunoparalysis": {"a_il10": 60.0, "kpg": 0.45, "k_abx": 0.03},
}
