"""Published numbers beside the simulated ones: a combined-SE z and a verdict per number.

``z = (simulated - published) / sqrt(se_simulated^2 + se_published^2)``; a published share ``k/n`` has the binomial
SE ``sqrt(p (1 - p) / n)``. Verdict: ``consistent`` where ``|z| < 2``, ``differs`` where ``2 <= |z| < 3``,
``differs strongly`` where ``|z| >= 3``. The published numbers, with their sources, are in :data:`PUBLISHED`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._html import _table
from ._mc import fmt

__all__ = ["PublishedNumber", "Comparison", "compare", "comparison_table", "PUBLISHED"]


@dataclass(frozen=True)
class PublishedNumber:
    """A published share ``k / n`` (or a value with its SE) and where it comes from."""

    quantity: str
    value: float
    se: float
    source: str

    @classmethod
    def share(cls, quantity: str, k: int, n: int, source: str) -> PublishedNumber:
        p = k / n
        return cls(quantity, p, math.sqrt(p * (1 - p) / n), source)


@dataclass(frozen=True)
class Comparison:
    """A simulated number beside a published one."""

    published: PublishedNumber
    simulated: float
    simulated_se: float

    @property
    def z(self) -> float:
        se = math.hypot(self.simulated_se, self.published.se)
        return (self.simulated - self.published.value) / se if se > 0 else math.nan

    @property
    def verdict(self) -> str:
        z = abs(self.z)
        if not math.isfinite(z):
            return "undetermined"
        return "consistent" if z < 2 else ("differs" if z < 3 else "differs strongly")

    def to_json(self) -> dict[str, Any]:
        num = lambda x: x if math.isfinite(x) else None
        return {
            "quantity": self.published.quantity,
            "published": self.published.value,
            "published_se": self.published.se,
            "simulated": num(self.simulated),
            "simulated_se": num(self.simulated_se),
            "z": num(self.z),
            "verdict": self.verdict,
            "source": self.published.source,
        }


def compare(published: PublishedNumber, simulated: float, simulated_se: float) -> Comparison:
    """The comparison of one simulated number with its published counterpart."""
    return Comparison(published, float(simulated), float(simulated_se))


def comparison_table(rows: Sequence[Comparison]) -> str:
    """HTML table: quantity, published (SE), simulated (SE), z, verdict, source."""
    e = html.escape
    body = [
        [e(c.published.quantity), f"{fmt(c.published.value)} <small>({fmt(c.published.se)})</small>",
         f"{fmt(c.simulated)} <small>({fmt(c.simulated_se)})</small>", fmt(c.z, 2), e(c.verdict),
         f"<small>{e(c.published.source)}</small>"]
        for c in rows
    ]  # fmt: skip
    note = (
        '<p class="note">z = (simulated - published) / sqrt(SE_simulated^2 + SE_published^2); consistent: |z| &lt; 2, '
        "differs: 2 &le; |z| &lt; 3, differs strongly: |z| &ge; 3. A published share k/n has the binomial SE.</p>"
    )
    return _table(["quantity", "published (SE)", "simulated (SE)", "z", "verdict", "source"], body) + note


_IS06 = "calibration_targets.yaml IS-06 (ImmunoSep, JAMA 2025;335:775; primary endpoint by endotype)"
_IS02 = "calibration_targets.yaml IS-02 (ImmunoSep screening: 48/672 MALS, 228/672 immunoparalysis)"
_ADAPTR = "trial_oracles.md: adaptr README (Granholm et al. 2022), 1000 simulations at s = 0.9814318"

PUBLISHED: Mapping[str, Any] = {
    # ImmunoSep primary endpoint by endotype and arm (responder rate), keyed (stratum, arm)
    "immunosep_responder": {
        ("MALS", "anakinra"): PublishedNumber.share("responder rate, MALS, anakinra", 12, 25, _IS06),
        ("MALS", "placebo"): PublishedNumber.share("responder rate, MALS, placebo", 4, 23, _IS06),
        ("immunoparalysis", "ifn_gamma"): PublishedNumber.share(
            "responder rate, immunoparalysis, rhIFN-gamma", 34, 106, _IS06
        ),
        ("immunoparalysis", "placebo"): PublishedNumber.share(
            "responder rate, immunoparalysis, placebo", 22, 122, _IS06
        ),
    },
    "immunosep_endotype_share": {
        "MALS": PublishedNumber.share("share of screened patients with MALS", 48, 672, _IS02),
        "immunoparalysis": PublishedNumber.share("share of screened patients with immunoparalysis", 228, 672, _IS02),
    },
    "adaptr_null": PublishedNumber.share("P(superiority) under the null, adaptr 3-arm example", 48, 1000, _ADAPTR),
}
