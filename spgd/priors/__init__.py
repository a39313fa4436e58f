"""Priors behind one interface: ``denoise(x, sigma)`` (and ``ddpm_x0`` for DPS)."""

from .adm import ADMPrior, build_unet
from .base import Prior
from .gmm import GaussianMixture, operator_matrix, smooth_mixture

__all__ = ["Prior", "ADMPrior", "GaussianMixture", "build_unet", "operator_matrix", "smooth_mixture"]
