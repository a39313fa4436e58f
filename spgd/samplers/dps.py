"""DPS (spec section 4): DDPM ancestral sampling with a gradient step on ||y - A(x0_hat(x_t))||
(the norm, not squared) taken per image; x0_hat clamped to [-1, 1]; learned-range variance where
the prior gives one, else the DDPM posterior variance; no noise at the last step.

``steps`` < 1000 respaces the schedule as guided-diffusion does (evenly spaced timesteps, betas
recomputed from the kept cumulative alphas); the model still sees original timestep indices.
"""

from __future__ import annotations

import math

import torch

from ..schedule import DDPM_STEPS, ddpm_betas
from .base import DivergenceGuard, SampleResult, Sampler


def respaced_timesteps(steps: int, total: int = DDPM_STEPS) -> list[int]:
    if not 1 <= steps <= total:
        raise ValueError(f"dps: steps must be in [1, {total}], got {steps}")
    if steps == 1:
        return [0]
    stride = (total - 1) / (steps - 1)
    return sorted({round(i * stride) for i in range(steps)})


class DPS(Sampler):
    name = "dps"

    def __init__(self, prior, steps: int = 1000, zeta: float = 1.0, clip_x0: bool = True):
        super().__init__(prior)
        if not (math.isfinite(zeta) and zeta >= 0):
            raise ValueError(f"dps: zeta must be a finite number >= 0, got {zeta!r}")
        self.steps, self.zeta, self.clip_x0 = int(steps), float(zeta), bool(clip_x0)
        self.timesteps = respaced_timesteps(self.steps)

    def _schedule(self):
        alpha_bar_full = torch.cumprod(1 - ddpm_betas(), 0)
        alpha_bar = alpha_bar_full[self.timesteps]
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        betas = 1 - alpha_bar / alpha_bar_prev
        posterior_variance = betas * (1 - alpha_bar_prev) / (1 - alpha_bar)
        # guided-diffusion clips the first (zero) posterior variance to the second one in log space
        log_variance = torch.log(torch.cat([posterior_variance[1:2], posterior_variance[1:]]))
        return alpha_bar, alpha_bar_prev, betas, log_variance

    def _run(self, operator, y, shape, noise, trace):
        alpha_bar, alpha_bar_prev, betas, log_variance_clipped = self._schedule()
        guard = DivergenceGuard(shape[0], y.device)
        x = noise.next(shape[1:])
        nfe = 0
        for n in reversed(range(len(self.timesteps))):
            ab, ab_prev, beta = float(alpha_bar[n]), float(alpha_bar_prev[n]), float(betas[n])
            x_t = x.detach().requires_grad_(True)
            eps, variance_values = self.prior.ddpm_eps(x_t, self.timesteps[n], ab)
            x0 = (x_t - math.sqrt(1 - ab) * eps) / math.sqrt(ab)
            if self.clip_x0:
                x0 = x0.clamp(-1, 1)
            distance = (operator(x0) - y).reshape(shape[0], -1).norm(dim=1)
            (grad,) = torch.autograd.grad(distance.sum(), x_t)
            nfe += 1
            with torch.no_grad():
                mean = (beta * math.sqrt(ab_prev) / (1 - ab)) * x0 + ((1 - ab_prev) * math.sqrt(1 - beta) / (1 - ab)) * x_t
                if variance_values is None:
                    log_variance = float(log_variance_clipped[n])
                    std = math.exp(0.5 * log_variance)
                else:
                    fraction = (variance_values + 1) / 2
                    log_variance = fraction * math.log(beta) + (1 - fraction) * float(log_variance_clipped[n])
                    std = torch.exp(0.5 * log_variance)
                step_noise = noise.next(shape[1:]) if n > 0 else torch.zeros_like(x)
                proposal = mean + std * step_noise
                likelihood_update = -self.zeta * grad
                x = guard.check(proposal + likelihood_update, len(self.timesteps) - 1 - n)
                if trace is not None:
                    trace.record("step", len(self.timesteps) - 1 - n, -1, math.sqrt((1 - ab) / ab),
                                 distance**2, mean - x_t, likelihood_update)
        return SampleResult(guard.finish(x.detach()), guard.step, nfe, nfe, trace)
