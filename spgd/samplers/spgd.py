"""SPGD (spec section 3): Euler annealing on the EDM schedule with N likelihood-gradient warm-up
steps at each noise level, optionally smoothed by adaptive directional momentum (ADM).

``adm``: ``released`` steps with the raw gradient, as the published code does (it computes the
momentum and discards it; we skip that dead computation, so ``released`` and ``off`` give the
same images at the same cost); ``applied`` steps with the momentum (what the paper describes);
``off`` has no momentum. "No warm-up" is ``warmup=1``; "no ADM" is ``adm="off"`` (or ``beta=0``).
"""

from __future__ import annotations

import torch

from ..schedule import annealing_sigmas, check_non_negative, check_positive, check_sigma_range, euler_factors, linear_decay
from .base import DivergenceGuard, SampleResult, Sampler, per_image_squared_norm

ADM_MODES = ("released", "applied", "off")


class SPGD(Sampler):
    name = "spgd"

    def __init__(self, prior, steps: int = 100, warmup: int = 5, lr: float = 1.0,
                 lr_min_ratio: float = 0.01, beta: float = 0.9, adm: str = "released",
                 recompute_x0: bool = False, sigma_max: float = 100.0, sigma_min: float = 0.1):
        super().__init__(prior)
        if adm not in ADM_MODES:
            raise ValueError(f"spgd: adm must be one of {ADM_MODES}, got {adm!r}")
        if int(steps) < 1 or int(warmup) < 1:
            raise ValueError(f"spgd: steps and warmup must be >= 1, got {steps} and {warmup}")
        if not 0 <= beta < 1:
            raise ValueError(f"spgd: beta must be in [0, 1), got {beta}")
        check_positive("spgd: lr", lr)
        check_non_negative("spgd: lr_min_ratio", lr_min_ratio)
        check_sigma_range("spgd", sigma_max, sigma_min)
        self.steps, self.warmup, self.lr, self.lr_min_ratio = int(steps), int(warmup), float(lr), float(lr_min_ratio)
        self.beta, self.adm, self.recompute_x0 = float(beta), adm, bool(recompute_x0)
        self.sigma_max, self.sigma_min = float(sigma_max), float(sigma_min)

    @property
    def planned_nfe(self) -> tuple[int, int]:
        warm = self.steps * self.warmup
        return warm + (self.steps if self.recompute_x0 else 0), warm

    def _run(self, operator, y, shape, noise, trace, progress):
        sigmas = annealing_sigmas(self.steps, self.sigma_max, self.sigma_min)
        factors = euler_factors(sigmas)
        guard = DivergenceGuard(shape[0], y.device)
        x = self.sigma_max * noise.next(shape[1:])
        nfe_forward = nfe_backward = 0
        for i in range(self.steps):
            sigma = float(sigmas[i])
            eta = linear_decay(self.lr, i, self.steps, self.lr_min_ratio)
            x_step_start = x
            momentum = None
            for j in range(self.warmup):
                x_prev = x.detach().requires_grad_(True)
                x0 = self.prior.denoise(x_prev, sigma)
                loss = per_image_squared_norm(operator(x0) - y)
                (grad,) = torch.autograd.grad(loss.sum(), x_prev)
                nfe_forward += 1
                nfe_backward += 1
                x0, x_prev = x0.detach(), x_prev.detach()
                if self.adm == "applied":
                    momentum = grad if j == 0 else adm_momentum(momentum, grad, self.beta)
                update = momentum if self.adm == "applied" else grad
                x = guard.check(x_prev - eta * update, i)
                if trace is not None:
                    trace.record("warmup", i, j, sigma, loss, x0 - x_prev, -update)
            if self.recompute_x0:
                with torch.no_grad():
                    x0 = self.prior.denoise(x, sigma)
                nfe_forward += 1
                x_prev = x
            x_warm = x
            x = guard.check(x + (float(factors[i]) / 2) * (x0 - x_prev) / sigma**2, i)
            if trace is not None:
                trace.record("step", i, -1, sigma, loss, x - x_warm, x_warm - x_step_start)
            progress(1)
        return SampleResult(guard.finish(x), guard.step, nfe_forward, nfe_backward, trace)


def adm_momentum(momentum: torch.Tensor, grad: torch.Tensor, beta: float, eps: float = 1e-8) -> torch.Tensor:
    """ADM update: m <- alpha beta m + (1 - alpha beta) g, alpha = (mean over pixels of the
    cosine of g and m across channels + 1) / 2, one alpha per image."""
    dot = (grad * momentum).sum(1)
    squared_norms = grad.square().sum(1) * momentum.square().sum(1)
    cosine = dot / squared_norms.clamp_min(eps * eps).sqrt()  # F.cosine_similarity's definition
    keep = beta * ((cosine.flatten(1).mean(1) + 1) / 2).reshape(-1, 1, 1, 1)
    return keep * momentum + (1 - keep) * grad
