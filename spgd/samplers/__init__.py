"""Samplers: ``spgd``, ``dps``, ``dps_gm`` and ``daps``, built by name with ``make_sampler``."""

from .base import AngleTrace, SampleResult, Sampler, angle_degrees
from .daps import DAPS
from .dps import DPS, DPSGM
from .gradient_management import ADM_MODES, GradientManagement
from .spgd import SPGD

SAMPLERS = {cls.name: cls for cls in (SPGD, DPS, DPSGM, DAPS)}

# The paper's comparison rows, its ablations and DPS-GM are configurations of these samplers.
VARIANTS = {
    "dps": ("dps", {}),
    "dps_gm": ("dps_gm", {}),
    "daps": ("daps", {}),
    "spgd": ("spgd", {"adm": "released"}),
    "spgd_adm": ("spgd", {"adm": "applied"}),
    "spgd_no_warmup": ("spgd", {"warmup": 1}),
    "spgd_no_adm": ("spgd", {"adm": "off"}),
}


def make_sampler(name: str, prior, **params) -> Sampler:
    """Build a sampler or a named variant (``spgd_no_warmup`` is SPGD with ``warmup=1``...)."""
    if name not in VARIANTS:
        raise ValueError(f"unknown sampler {name!r}; expected one of {', '.join(VARIANTS)}")
    base, fixed = VARIANTS[name]
    clashes = {k for k in fixed if k in params and params[k] != fixed[k]}
    if clashes:
        raise ValueError(f"sampler {name!r} fixes {sorted(clashes)}; got {({k: params[k] for k in clashes})}")
    return SAMPLERS[base](prior, **{**params, **fixed})


__all__ = ["SAMPLERS", "VARIANTS", "make_sampler", "SPGD", "DPS", "DPSGM", "DAPS", "ADM_MODES", "GradientManagement", "Sampler", "SampleResult", "AngleTrace", "angle_degrees"]
