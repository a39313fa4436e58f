"""Priors behind one interface: ``denoise(x, sigma)`` (and ``ddpm_x0`` for DPS)."""

from .adm import ADMPrior, build_unet
from .base import Prior
from .gmm import GaussianMixture, operator_matrix, smooth_mixture
from .unet import EDMUNetPrior

__all__ = ["Prior", "ADMPrior", "EDMUNetPrior", "GaussianMixture", "build_unet", "make_prior", "operator_matrix",
           "smooth_mixture"]


def make_prior(spec: dict) -> Prior:
    """A prior from a config mapping: ``{"type": "gmm_smooth", "side": 16}``,
    ``{"type": "edm_unet"}`` (the shipped demo prior; or ``checkpoint``/``sha256`` of a retrained one)
    or ``{"type": "adm", "checkpoint": PATH, "architecture": "ffhq" | "imagenet", "sha256": HEX}``."""
    kind = spec.get("type")
    if kind == "gmm_smooth":
        return smooth_mixture(int(spec.get("side", 8)))
    if kind == "edm_unet":
        return EDMUNetPrior(spec.get("checkpoint"), spec.get("sha256"))
    if kind == "adm":
        return ADMPrior(spec.get("checkpoint"), spec.get("architecture", "ffhq"), spec.get("sha256"))
    raise ValueError(f"prior type must be 'gmm_smooth', 'edm_unet' or 'adm', got {kind!r}")
