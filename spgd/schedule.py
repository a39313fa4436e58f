"""Noise schedules and step-size decay shared by the samplers (docs/method.md: Priors, Noise schedule)."""

from __future__ import annotations

import math

import torch

SIGMA_MAX = 100.0
SIGMA_MIN = 0.1
RHO = 7.0

# DDPM linear beta schedule of the DPS / guided-diffusion checkpoints.
DDPM_STEPS = 1000
DDPM_BETA_START = 1e-4
DDPM_BETA_END = 0.02

# Continuous VP schedule matching that DDPM schedule: beta(t) = b0 + bd * t, t in [0, 1].
VP_BETA_0 = 0.1
VP_BETA_D = 19.9


def annealing_sigmas(
    steps: int,
    sigma_max: float = SIGMA_MAX,
    sigma_min: float = SIGMA_MIN,
    rho: float = RHO,
) -> torch.Tensor:
    """EDM (Karras) sigmas, both ends included, with a final 0 appended: ``steps + 1`` values.

    ``sigma_i = (smax**(1/rho) + i/(K-1) * (smin**(1/rho) - smax**(1/rho)))**rho``, float64.
    """
    if steps < 1:
        raise ValueError(f"annealing steps must be >= 1, got {steps}")
    if not sigma_max > sigma_min > 0:
        raise ValueError(f"need sigma_max > sigma_min > 0, got {sigma_max}, {sigma_min}")
    i = torch.arange(steps, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    fraction = i / (steps - 1) if steps > 1 else torch.zeros(1, dtype=torch.float64)
    sigmas = (hi + fraction * (lo - hi)) ** rho
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])


def euler_factors(sigmas: torch.Tensor) -> torch.Tensor:
    """``f_i = 2 sigma_i (sigma_i - sigma_{i+1})`` for every step of a schedule from annealing_sigmas."""
    return 2 * sigmas[:-1] * (sigmas[:-1] - sigmas[1:])


def linear_decay(lr: float, step: int, steps: int, min_ratio: float) -> float:
    """Step size of step ``step`` of ``steps``: from ``lr`` at step 0 linearly towards ``lr * min_ratio``."""
    return lr * (1 + (step / steps) * (min_ratio - 1))


def ddpm_betas(steps: int = DDPM_STEPS) -> torch.Tensor:
    """Linear betas 1e-4..0.02 (float64), rescaled to ``steps`` like guided-diffusion does."""
    scale = DDPM_STEPS / steps
    return torch.linspace(
        scale * DDPM_BETA_START, scale * DDPM_BETA_END, steps, dtype=torch.float64
    )


def vp_time(sigma: torch.Tensor | float) -> torch.Tensor:
    """Continuous VP time t(sigma) in [0, 1] whose marginal has noise-to-signal ratio ``sigma``."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64)
    b0, bd = VP_BETA_0, VP_BETA_D
    return (torch.sqrt(b0**2 + 2 * bd * torch.log1p(sigma**2)) - b0) / bd


def vp_sigma(t: torch.Tensor | float) -> torch.Tensor:
    """Inverse of vp_time: sigma(t) = sqrt(exp(b0 t + bd t^2 / 2) - 1)."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return torch.sqrt(torch.expm1(VP_BETA_0 * t + 0.5 * VP_BETA_D * t**2))


def check_positive(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


def check_non_negative(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def check_sigma_range(name: str, sigma_max: float, sigma_min: float) -> None:
    """The annealing range of a sampler: sigma_max > sigma_min > 0, both finite."""
    check_positive(f"{name}: sigma_min", sigma_min)
    check_positive(f"{name}: sigma_max", sigma_max)
    if not sigma_max > sigma_min:
        raise ValueError(f"{name}: sigma_max must be greater than sigma_min, got {sigma_max!r} and {sigma_min!r}")
