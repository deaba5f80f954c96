"""Reference parameter sets for the five qualitative behaviours of the patient model (tests and figures).

Each entry overrides the reference patient of ``patient.yaml``. Outcomes (checked in
``tests/models/test_patient_behaviours.py``): health/resolution; septic death (pathogen persists: fast growth,
ineffective antibiotics); aseptic death (damage persists after clearance: weak IL-10 brake, high damage
susceptibility, Reynolds 2006); MALS (runaway IL-1-driven macrophage activation, ferritin > 4420 ng/mL);
immunoparalysis (IL-10-dominated: HLA-DR < 5000 AB/C, lymphopenia, persistent infection).
"""

from __future__ import annotations

__all__ = ["BEHAVIOURS"]

BEHAVIOURS: dict[str, dict[str, float]] = {
    "health": {"h0": 26000.0},  # reference patient with robust HLA-DR expression (unclassified at screening)
    "septic_death": {"kpg": 0.6, "k_abx": 0.01},
    "aseptic_death": {"a_il10": 8.0, "kdn": 0.8},
    "mals": {"a_il1": 250.0},
    "immunoparalysis": {"a_il10": 60.0, "kpg": 0.45, "k_abx": 0.03},
}
