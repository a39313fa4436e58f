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

    @property
    def total_steps(self) -> int:
        return len(self.timesteps)

    @property
    def planned_nfe(self) -> tuple[int, int]:
        return len(self.timesteps), len(self.timesteps)

    def _schedule(self) -> list[tuple[float, float, float, float]]:
        """(alpha_bar, alpha_bar_prev, beta, clipped posterior log-variance) per kept step."""
        alpha_bar_full = torch.cumprod(1 - ddpm_betas(), 0)
        alpha_bar = alpha_bar_full[self.timesteps]
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        betas = 1 - alpha_bar / alpha_bar_prev
        posterior_variance = betas * (1 - alpha_bar_prev) / (1 - alpha_bar)
        # guided-diffusion clips the first (zero) posterior variance to the second one in log space;
        # a single step adds no noise, so its (zero) variance is never used
        first = posterior_variance[1:2] if len(posterior_variance) > 1 else posterior_variance
        log_variance = torch.log(torch.cat([first, posterior_variance[1:]]))
        return list(zip(alpha_bar.tolist(), alpha_bar_prev.tolist(), betas.tolist(), log_variance.tolist()))

    def _run(self, operator, y, shape, noise, trace, progress):
        guard = DivergenceGuard(shape[0], y.device)
        x = noise.next(shape[1:])
        schedule = self._schedule()
        count = len(schedule)
        for n in reversed(range(count)):
            ab, ab_prev, beta, log_variance_clipped = schedule[n]
            step = count - 1 - n
            x_t = x.detach().requires_grad_(True)
            x0, variance_values = self.prior.ddpm_x0(x_t, self.timesteps[n], ab)
            if self.clip_x0:
                x0 = x0.clamp(-1, 1)
            distance = (operator(x0) - y).reshape(shape[0], -1).norm(dim=1)
            (grad,) = torch.autograd.grad(distance.sum(), x_t)
            with torch.no_grad():
                mean = (beta * math.sqrt(ab_prev) / (1 - ab)) * x0 + ((1 - ab_prev) * math.sqrt(1 - beta) / (1 - ab)) * x_t
                if variance_values is None:
                    std = math.exp(0.5 * log_variance_clipped)
                else:
                    fraction = (variance_values + 1) / 2
                    std = torch.exp(0.5 * (fraction * math.log(beta) + (1 - fraction) * log_variance_clipped))
                proposal = mean + std * noise.next(shape[1:]) if n > 0 else mean
                x = guard.check(proposal - self.zeta * grad, step)
                if trace is not None:
                    trace.record("step", step, -1, math.sqrt((1 - ab) / ab), distance**2, mean - x_t, -self.zeta * grad)
            progress(1)
        return SampleResult(guard.finish(x), guard.step, count, count, trace)
