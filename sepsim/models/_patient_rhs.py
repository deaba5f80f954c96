"""Right-hand side of the virtual septic patient: 15 physiological states plus 2 hazard integrals.

Each physiological state obeys ``dx/dt = production(x) - loss(x) * x`` with ``production >= 0`` (pathogens:
per-capita growth and kill only), so the positive orthant is invariant. The solver integrates ``log x``
(``d log x/dt = production/x - loss``): positivity then holds by construction for any step size. The two
cumulative hazards (death, ICU-acquired infection) are integrated linearly and only for ``t >= 0`` (after
randomisation). Time is in hours. Equations, units and sources: README_patient.md and params/patient.yaml.

**ICU-acquired (secondary) infection inside the ODE.** The infection happens when the cumulative infection hazard
``Lambda_inf`` reaches the patient's Exp(1) draw ``crn_infection`` (a common random number, the same under every
arm; the same crossing defines ``infection_day`` in the outcome table). The event is a smooth switch
``s = (1 + tanh((Lambda_inf - crn)/W_SWITCH))/2`` of the solver state: the secondary pathogen ``P2`` (state 14)
waits at a colonising floor until ``s`` turns on, its log-state then gains ``log(p_inoc_2/P2_FLOOR) ds/dt``
(the inoculum, exactly, however fast the switch turns) and its growth and kill terms turn on with ``s``; state 15
counts the hours since onset (``dc/dt = s``), which starts the empirical antibiotics ``t_abx_2`` hours later.

Where each :class:`~sepsim.models._effects.Effects` field acts:

* ``clearance.*``: extra first-order loss of endotoxin, TNF, IL-1b, IL-6, IL-10 (devices).
* ``il1_block``: multiplies IL-1 receptor signalling (monocyte activation, IL-6 induction, ferritin release).
* ``hla_dr_stim``: multiplies the HLA-DR expression drive by ``1 + stim`` (IFN-g, GM-CSF).
* ``lymph_prolif``: multiplies lymphocyte production by ``1 + prolif`` (IL-7, thymosin a1).
* ``lymph_apoptosis_block``: multiplies the inflammation/IL-10-driven lymphocyte loss by ``1 - block``.
* ``pathogen_kill``: extra per-capita pathogen kill, 1/h (IVIG opsonisation).
* ``endotoxin_neutralisation``: extra endotoxin loss, 1/h.
* ``inflammation_damping``: multiplies monocyte recruitment and TNF/IL-1/IL-6 production by ``1 - damping``.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from jaxtyping import Array, Float

from ._effects import Effects

__all__ = [
    "STATE_NAMES",
    "IDX_DEATH",
    "IDX_INFECTION",
    "infection_switch",
    "infection_hazard",
    "STATE_UNITS",
    "N_STATES",
    "N_PHYSIOLOGICAL",
    "patient_rhs",
    "production_loss",
    "initial_state",
    "to_physical",
]

STATE_NAMES = (
    "pathogen",
    "endotoxin",
    "macrophages",
    "tnf",
    "il1b",
    "il6",
    "il10",
    "damage",
    "ferritin",
    "hla_dr",
    "lymphocytes",
    "organ_dysfunction",
    "tolerance",
    "secondary_pathogen",
    "secondary_infection_clock",
)
STATE_UNITS = (
    "10^6 cells/mL",
    "EU/mL",
    "1 (activated-phagocyte index, Reynolds N*)",
    "pg/mL",
    "pg/mL",
    "pg/mL",
    "pg/mL",
    "a.u. (Reynolds D)",
    "ng/mL",
    "AB/C",
    "10^3/uL",
    "SOFA-equivalent points",
    "1 (tolerant fraction of activated M)",
    "10^6 cells/mL",
    "h",  # hours since the ICU-acquired infection's onset (CLOCK_FLOOR before it); not "h since ...", which CF
)  # readers decode as a calendar time (xarray then fails to open the outcome table)
N_PHYSIOLOGICAL = len(STATE_NAMES)
N_STATES = N_PHYSIOLOGICAL + 2  # + cumulative death hazard, cumulative secondary-infection hazard
T_START = -48.0  # h; infection onset, 48 h before randomisation (t = 0) [U]
H_REF = 20000.0  # AB/C; reference HLA-DR for monocyte competence (brief 2: >= 15,000 immunocompetent)
L_REF = 1.8  # 10^3/uL; reference lymphocyte count for lymphocyte help (normal adult ALC, patient.yaml l0)
IDX_DEATH, IDX_INFECTION = N_PHYSIOLOGICAL, N_PHYSIOLOGICAL + 1  # cumulative hazards in the solver state
# Numerical settings of the infection switch (not clinical numbers):
W_SWITCH = 1e-4  # width of the switch in cumulative-hazard units: the onset takes 2 W / h_inf ~ 0.1-1.2 h
CRN_MIN = 8.0 * W_SWITCH  # draws below it are raised to it, so the switch is off (< 1e-7) at randomisation
P2_FLOOR = 1e-6  # 10^6/mL (1 cell/mL): colonising floor of the secondary pathogen before the infection
CLOCK_FLOOR = 0.1  # h; start of the onset clock (log-space state; antibiotics at t_abx_2 >> 0.1 h)


def competence(hla: Any, lym: Any, p: Any) -> Any:
    """Pathogen-killing competence of the phagocytes, 1 at H_REF and L_REF (dimensionless).

    ``c(H) g(L)``: monocyte HLA-DR as the index of monocyte function, ``c(H) = (1 + K^2) h^2 / (h^2 + K^2)``,
    ``h = H/H_REF``, ``K = k_comp`` (Hill n = 2; low mHLA-DR = immunoparalysis with impaired monocyte function,
    restored by IFN-g, Docke 1997, Meisel 2009, brief 6 rows 3 and 10), and lymphocyte (Th1) help
    ``g(L) = (1 + k_lh) l / (l + k_lh)``, ``l = L/L_REF`` (lymphopenia -> persistent infection, Drewry 2014).
    """
    h2 = (hla / H_REF) ** 2
    c_h = (1.0 + p.k_comp**2) * h2 / (h2 + p.k_comp**2)
    lr = lym / L_REF
    return c_h * (1.0 + p.k_lh) * lr / (lr + p.k_lh)


def infection_switch(t: Any, x: Any, p: Any, xp: Any = jnp) -> tuple[Any, Any]:
    """The ICU-acquired infection event as a smooth switch of the state: ``(s, ds/dt)``, both dimensionless (per h).

    ``x`` holds the physiological states (physical units) followed by ``Lambda_death`` and ``Lambda_inf``.
    ``s = (1 + tanh((Lambda_inf - max(crn_infection, CRN_MIN))/W_SWITCH))/2``; ``ds/dt`` from ``dLambda_inf/dt``.
    """
    centre = xp.maximum(p.crn_infection, CRN_MIN)
    z = (x[IDX_INFECTION] - centre) / W_SWITCH
    th = xp.tanh(z)
    on = xp.where(t >= 0.0, 1.0, 0.0)
    return 0.5 * (1.0 + th), 0.5 * (1.0 - th * th) / W_SWITCH * on * infection_hazard(x, p, xp)  # sech^2 = 1 - tanh^2


def production_loss(t: Any, x: Any, p: Any, eff: Any, xp: Any = jnp) -> tuple[list, list]:
    """Production (units/h) and per-capita loss (1/h) of the 15 physiological states.

    Generic over the array namespace ``xp`` (``jax.numpy`` or ``numpy``) so that the scipy reference solver
    integrates exactly the same equations. ``x`` holds the states in physical units (STATE_UNITS) followed by the
    two cumulative hazards (the infection switch reads ``Lambda_inf``).
    """
    pth, e, m, tnf, il1, il6, il10, d, fer, hla, lym, org, tol, p2, clock = (x[i] for i in range(N_PHYSIOLOGICAL))
    p_all = pth + p2  # total pathogen burden: both infections release PAMP, injure tissue and drive organ failure
    cl = eff.clearance
    damp = 1.0 - eff.inflammation_damping
    inh = 1.0 / (1.0 + (il10 / p.x_il10) ** 2)  # Reynolds f(V) = V / (1 + (CA/cinf)^2) with CA -> IL-10
    il1_sig = (1.0 - eff.il1_block) * il1**4 / (il1**4 + p.k_il1_sig**4)  # IL-1R signal, Hill n = 4 [U]
    comp = competence(hla, lym, p)  # 1 at 20,000 AB/C and ALC 1.8
    abx = p.k_abx * 0.5 * (1.0 + xp.tanh(t - p.t_abx))  # smooth start over ~1 h

    # 1 pathogen (Reynolds 2006): logistic growth - local kill - phagocyte kill - antibiotics - drugs
    kill_local = p.kpm * p.sm / (p.mum + p.kmp * pth)
    kill_m = p.kpn * comp * m  # IL-10 acts on killing through HLA-DR (monocyte deactivation), not twice
    p_loss = kill_local + kill_m + abx + eff.pathogen_kill - p.kpg * (1.0 - pth / p.pinf)
    # 14 secondary (ICU-acquired) pathogen: the same host kill terms (its own site's local response, the shared
    # phagocyte kill), its own growth and a fresh empirical antibiotic start t_abx_2 h after onset (kill k_abx_2)
    s_inf, ds_inf = infection_switch(t, x, p, xp)
    abx_2 = p.k_abx_2 * 0.5 * (1.0 + xp.tanh(clock - p.t_abx_2))
    kill_local_2 = p.kpm * p.sm / (p.mum + p.kmp * p2)
    growth_2 = p.kpg_2 * (1.0 - p2 / p.pinf) - kill_local_2 - kill_m - abx_2 - eff.pathogen_kill
    # seeding: log P2 gains log(p_inoc_2 / P2_FLOOR) as s goes 0 -> 1 (written as a negative per-capita loss)
    p2_loss = -xp.log(p.p_inoc_2 / P2_FLOOR) * ds_inf - s_inf * growth_2
    # 15 onset clock: hours since the infection (dc/dt = s)
    clock_prod = s_inf
    # 2 endotoxin / PAMP
    e_prod = p.s_e * p_all + p.k_e * p.e_base
    e_loss = p.k_e + cl.endotoxin + eff.endotoxin_neutralisation
    # 3 activated monocytes/macrophages (Reynolds N* with PAMP, IL-1R drive; IL-10-inhibited)
    drive = damp * inh * (p.knn * m + p.kne * e + p.knd * d + p.km1 * il1_sig)
    m_prod = p.snr * drive / (p.munr + drive) + p.mun * p.m_base
    m_loss = p.mun
    # tolerant macrophages (state 13: a fraction tol_max T of M) still kill pathogens and make IL-10, but neither
    # TNF, IL-1b, IL-6 nor tissue damage (endotoxin-tolerance phenotype); m_pro = the pro-inflammatory part of M
    m_pro = m * (1.0 - p.tol_max * tol)
    # 4 TNF
    tnf_prod = p.k_tnf * p.w_tnf + damp * inh * p.a_tnf * m_pro
    tnf_loss = p.k_tnf + cl.tnf
    # 5 IL-1b (TNF-amplified)
    # inflammasome two-signal model: pro-IL-1b synthesis needs TLR priming by PAMP (floor w_prime without PAMP)
    prime = p.w_prime + (1.0 - p.w_prime) * e / (e + p.x_prime)
    il1_prod = p.k_il1 * p.w_il1 + damp * inh * p.a_il1 * prime * m_pro * (1.0 + tnf / (tnf + p.x_il1_tnf))
    il1_loss = p.k_il1 + cl.il1b
    # 6 IL-6 (IL-1- and TNF-amplified)
    il6_prod = p.k_il6 * p.w_il6 + damp * inh * p.a_il6 * m_pro * (1.0 + 2.0 * il1_sig + tnf / (tnf + p.x_il6_tnf))
    il6_loss = p.k_il6 + cl.il6
    # 7 IL-10 (Reynolds CA production: saturating in M + kcnd D)
    v10 = m + p.kcnd * d
    il10_prod = p.k_il10 * p.w_il10 + p.a_il10 * v10 / (1.0 + v10)
    il10_loss = p.k_il10 + cl.il10
    # 8 tissue damage (Reynolds steep switch on IL-10-inhibited M, plus direct pathogen toxicity)
    fm6 = (m_pro * inh) ** 6
    d_prod = p.kdn * fm6 / (p.xdn**6 + fm6) + p.kdp * p_all / (p_all + 1.0) + p.mud * p.d_base
    d_loss = p.mud
    # 9 ferritin (Pfizer QSP form: basal + IL-1-activated macrophages + damaged cells)
    fer_prod = p.k_fer * p.f0 + p.a_fer * m * il1_sig + p.a_fer_d * d
    fer_loss = p.k_fer
    # 10 monocyte HLA-DR: relaxes to h0 (1 + stim) / (1 + (IL-10/x)^2)
    hla_prod = p.k_hla * p.h0 * (1.0 + eff.hla_dr_stim) / (1.0 + (il10 / p.x_hla_il10) ** 2)
    hla_loss = p.k_hla
    # 11 lymphocytes: production vs inflammation- and IL-10-driven apoptosis
    lym_prod = p.k_lym * p.l0 * (1.0 + eff.lymph_prolif)
    apop = p.a_lym_m * m + p.a_lym_il10 * il10 / p.x_lym_il10
    lym_loss = p.k_lym * (1.0 + (1.0 - eff.lymph_apoptosis_block) * apop)
    # 12 organ dysfunction (SOFA-equivalent): relaxes to a Hill function of the insult (damage + pathogen burden);
    # the septic floor o_base - o_chronic lasts only while an insult remains (X/(X + x_rec)), so survivors recover
    # to their chronic baseline o_chronic once damage is repaired and the pathogen cleared
    xo = d + p.w_org_p * p_all
    xo2 = xo**2  # Hill n = 2: the septic floor holds until the insult is nearly gone, then falls within days
    floor = p.o_chronic + (p.o_base - p.o_chronic) * xo2 / (xo2 + p.x_rec**2)
    org_target = floor + (p.o_max - p.o_base) * xo / (xo + p.x_org)
    # organ injury sets in at k_org but heals at k_org_rec (< k_org): smooth switch over ~0.5 SOFA points
    worsening = 0.5 * (1.0 + xp.tanh(2.0 * (org_target - org)))
    k_o = p.k_org_rec + (p.k_org - p.k_org_rec) * worsening
    org_prod = k_o * org_target
    org_loss = k_o
    # 13 macrophage tolerance (slow counter-regulation): strongly activated macrophages (Hill n = 4 in M) reprogram
    # at k_tol and recover at k_tol_off (t1/2 ~7 days); T in (0, 1)
    m4 = m**4
    tol_on = p.k_tol * m4 / (m4 + p.x_tol**4)
    tol_prod = tol_on + p.k_tol_off * p.tol_base
    tol_loss = tol_on + p.k_tol_off
    prod = [0.0 * pth, e_prod, m_prod, tnf_prod, il1_prod, il6_prod, il10_prod, d_prod, fer_prod, hla_prod]
    prod += [lym_prod, org_prod, tol_prod, 0.0 * p2, clock_prod]
    loss = [p_loss, e_loss, m_loss, tnf_loss, il1_loss, il6_loss, il10_loss, d_loss, fer_loss, hla_loss]
    loss += [lym_loss, org_loss, tol_loss, p2_loss, 0.0 * clock]
    return prod, loss


def infection_hazard(x: Any, p: Any, xp: Any = jnp) -> Any:
    """ICU-acquired infection hazard, 1/h: ``h_inf0 (1 + c_H/(1 + (H/8000)^4) + c_L/(1 + (L/0.6)^4)) u_icu``.

    ``u_icu = (1 + tanh(2 (O - o_ready)))/2``: the exposure is organ support (ventilation, central lines, urinary
    catheters: ICU-acquired infections are mostly device-associated), off once organ dysfunction has resolved to the
    ICU-discharge level ``o_ready`` [U]. So a discharged patient acquires no new infection in the dynamics, and the
    outcome table's infection (before death and ICU discharge) is the one the dynamics saw.
    """
    hla, lym, org = x[9], x[10], x[11]
    u_icu = 0.5 * (1.0 + xp.tanh(2.0 * (org - p.o_ready)))
    return (
        (p.h_inf0 / 24.0)
        * u_icu
        * (1.0 + p.c_inf_hla / (1.0 + (hla / p.x_inf_hla) ** 4) + p.c_inf_lym / (1.0 + (lym / p.x_inf_lym) ** 4))
    )


def hazards(x: Any, p: Any, xp: Any = jnp) -> tuple[Any, Any]:
    """Death and ICU-acquired-infection hazards, 1/h, from physical states ``x``.

    Death: ``h0 exp(beta (O - 9) + beta_age (age - 70)/10 + beta_charlson (charlson - 2)) (1 + gamma P/(P + 1))``
    with ``P`` the total pathogen burden (primary + secondary); brief 5: beta = ln 1.35; Charlson OR 1.134 per
    point, clinical_course.md 7. The deaths an ICU-acquired infection causes come out of the dynamics (new pathogen
    load -> PAMP, damage, organ dysfunction -> this hazard): there is no separate per-infection term (README_patient.md,
    "ICU-acquired infection"). Acute phase only: after ICU discharge :mod:`._course` applies the post-acute hazard.
    """
    p_all, org = x[0] + x[13], x[11]
    covariates = p.beta_age * (p.age - 70.0) / 10.0 + p.beta_charlson * (p.charlson - 2.0)
    h_death = (p.h_death0 / 24.0) * xp.exp(p.beta_sofa * (org - 9.0) + covariates)
    h_death = h_death * (1.0 + p.gamma_p * p_all / (p_all + 1.0))
    return h_death, infection_hazard(x, p, xp)


_LOG_STATE_MIN, _LOG_STATE_MAX = -400.0, 40.0  # bounds on log-states inside the right-hand side (see patient_rhs)
_PER_CAPITA = (0, 13)  # pathogen and secondary pathogen: no production term


def patient_rhs(t: Float[Array, ""], y: Float[Array, " 17"], params: Any, effects: Effects) -> Float[Array, " 17"]:
    """Time derivative of the solver state ``y = (log x_1..x_15, Lambda_death, Lambda_infection)``; t in hours.

    Hazards accumulate only after randomisation (``t >= 0``; pass 0 in the step-size controller's jump_ts).
    """
    # A rejected trial step can carry a log-state far out of range; bounding it keeps exp finite and non-zero, so
    # production/x and the error estimate stay finite and the controller shrinks the step. Unbounded, an overflow or
    # an underflow to 0 gave NaN step sizes right after adsorber cartridge changes (CytoSorb, oXiris, HVHF solves
    # failed). The bounds never bind on a physical course: states stay within e^-400 .. e^40 (~1e-174 .. 2e17).
    x = jnp.exp(jnp.clip(y[:N_PHYSIOLOGICAL], _LOG_STATE_MIN, _LOG_STATE_MAX))
    x = jnp.concatenate([x, y[N_PHYSIOLOGICAL:N_STATES]])  # + the hazard integrals (the infection switch reads them)
    prod, loss = production_loss(t, x, params, effects)
    # pathogens in per-capita form (no production), so they may underflow to 0 in log-space without 0/0
    dlog = jnp.stack([-loss[i] if i in _PER_CAPITA else prod[i] / x[i] - loss[i] for i in range(N_PHYSIOLOGICAL)])
    h_death, h_inf = hazards(x, params)
    on = jnp.where(t >= 0.0, 1.0, 0.0).astype(y.dtype)
    return jnp.concatenate([dlog, jnp.stack([on * h_death, on * h_inf])])


def initial_state(params: Any) -> Float[Array, " 17"]:
    """Solver state at infection onset (``T_START``): healthy steady state plus the inoculum ``p0``; the secondary
    pathogen at its colonising floor and its onset clock at ``CLOCK_FLOOR``.

    Endotoxin starts at its quasi-steady state for the inoculum (``e_base + s_e p0 / k_e``): it equilibrates
    within ~1 h anyway, and starting at ``e_base`` would make the first log-space step needlessly stiff.
    """
    p = params
    dt = jnp.result_type(p.p0)
    x0 = [
        p.p0,
        p.e_base + p.s_e * p.p0 / p.k_e,
        p.m_base,
        p.w_tnf,
        p.w_il1,
        p.w_il6,
        p.w_il10,
        p.d_base,
        p.f0,
        p.h0,
        p.l0,
        p.o_base,
        p.tol_base,
    ]
    x0 = jnp.stack([jnp.maximum(jnp.asarray(v, dt), 1e-6) for v in x0] + [jnp.asarray(v, dt) for v in _X0_EXTRA])
    return jnp.concatenate([jnp.log(x0), jnp.zeros(2, dt)])


_X0_EXTRA = (P2_FLOOR, CLOCK_FLOOR)


def to_physical(y: Float[Array, "... 17"]) -> Float[Array, "... 17"]:
    """Solver state -> physical units (exp of the 15 log-states; hazard integrals unchanged)."""
    return jnp.concatenate([jnp.exp(y[..., :N_PHYSIOLOGICAL]), y[..., N_PHYSIOLOGICAL:]], axis=-1)
