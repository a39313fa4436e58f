"""DPS (docs/method.md, DPS): DDPM ancestral sampling with a gradient step on ||y - A(x0_hat(x_t))||
(the norm, not squared) taken per image; x0_hat clamped to [-1, 1]; learned-range variance where
the prior gives one, else the DDPM posterior variance; no noise at the last step.

``steps`` < 1000 respaces the schedule as guided-diffusion does (evenly spaced timesteps, betas
recomputed from the kept cumulative alphas); the model still sees original timestep indices.

DPS-GM (``dps_gm``) is DPS with SPGD's gradient management (``spgd.samplers.gradient_management``):
at each DDPM step, N gradient iterations on x_t (the DPS gradient, smoothed by ADM when applied),
then the ancestral move of the last iterate reusing its x0_hat, and the last iteration's likelihood
step: N network evaluations, each with a backward pass, per step; N = 1 without momentum is DPS.
Step size: ``zeta`` per iteration, decayed by ``lr_min_ratio`` like SPGD's lr (default 1: constant).
Not zeta / N, so that at equal cost (K/N steps of N iterations against K steps of one) the
likelihood gets as many steps of the same size as in plain DPS, and a zeta tuned for DPS carries
over; SPGD's lr is likewise per warm-up iteration.
"""

from __future__ import annotations

import math

import torch

from ..schedule import DDPM_STEPS, ddpm_betas
from .base import DivergenceGuard, SampleResult, Sampler
from .gradient_management import Evaluation, GradientManagement


def respaced_timesteps(steps: int, total: int = DDPM_STEPS) -> list[int]:
    if not 1 <= steps <= total:
        raise ValueError(f"dps: steps must be in [1, {total}], got {steps}")
    if steps == 1:
        return [0]
    stride = (total - 1) / (steps - 1)
    return sorted({round(i * stride) for i in range(steps)})


class DPS(Sampler):
    """Diffusion posterior sampling (Chung et al. 2023; docs/method.md, DPS).

    :param Prior prior: any prior: ``Prior.ddpm_x0`` asks its denoiser at the DDPM step's noise level
        (the guided-diffusion checkpoints answer with their own epsilon and learned variance).
    :param int steps: DDPM steps, 1 to 1000; fewer than 1000 respace the schedule as guided-diffusion
        does (paper 1000). Default 1000.
    :param float zeta: step size of the likelihood gradient (of the norm, not its square), >= 0 (0:
        unconditional DDPM); per task in the paper (SR and blurs 0.3, inpainting 0.5, phase
        retrieval 1.0). Default 1.
    :param bool clip_x0: clamp the x0 estimate to [-1, 1], as DPS does. Default True.
    """

    name = "dps"

    def __init__(self, prior, steps: int = 1000, zeta: float = 1.0, clip_x0: bool = True):
        super().__init__(prior)
        if not (math.isfinite(zeta) and zeta >= 0):
            raise ValueError(f"{self.name}: zeta must be a finite number >= 0, got {zeta!r}")
        self.steps, self.zeta, self.clip_x0 = int(steps), float(zeta), bool(clip_x0)
        self.timesteps = respaced_timesteps(self.steps)

    @property
    def total_steps(self) -> int:
        return len(self.timesteps)

    @property
    def planned_nfe(self) -> tuple[int, int]:
        nfe = len(self.timesteps) * self.gradient_management().warmup
        return nfe, nfe

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

    def gradient_management(self) -> GradientManagement:
        """Plain DPS: one gradient step of ``zeta`` per DDPM step, no momentum, no decay."""
        return GradientManagement(warmup=1, adm="off", lr=self.zeta, lr_min_ratio=1.0)

    def _run(self, operator, y, shape, noise, trace, progress):
        guard = DivergenceGuard(shape[0], y.device)
        management = self.gradient_management()
        x = noise.next(shape[1:])
        schedule = self._schedule()
        count = len(schedule)
        for n in reversed(range(count)):
            ab, ab_prev, beta, log_variance_clipped = schedule[n]
            step = count - 1 - n
            timestep = self.timesteps[n]

            def likelihood(x_t):
                x0, variance_values = self.prior.ddpm_x0(x_t, timestep, ab)
                if self.clip_x0:
                    x0 = x0.clamp(-1, 1)
                distance = (operator(x0) - y).reshape(shape[0], -1).norm(dim=1)
                return Evaluation(distance, distance**2, x0, variance_values)

            eta = management.step_size(step, count)
            sigma = math.sqrt((1 - ab) / ab)
            # warm-up rows only where there is a warm-up: plain DPS's trace is its step rows
            warmed = management.warm_up(x, likelihood, eta, guard, step, sigma, trace if management.warmup > 1 else None)
            x_t, x0, variance_values = warmed.x_prev, warmed.x0, warmed.extra
            with torch.no_grad():
                mean = (beta * math.sqrt(ab_prev) / (1 - ab)) * x0 + ((1 - ab_prev) * math.sqrt(1 - beta) / (1 - ab)) * x_t
                if variance_values is None:
                    std = math.exp(0.5 * log_variance_clipped)
                else:
                    fraction = (variance_values + 1) / 2
                    std = torch.exp(0.5 * (fraction * math.log(beta) + (1 - fraction) * log_variance_clipped))
                proposal = mean + std * noise.next(shape[1:]) if n > 0 else mean
                # the ancestral move of the last iterate, then its likelihood step: with one
                # iteration this is DPS's x_{t-1} = proposal(x_t) - zeta * grad, term for term
                likelihood_move = -eta * warmed.update
                next_x = guard.check(proposal + likelihood_move, step)
                if trace is not None:
                    trace.record("step", step, -1, sigma, warmed.loss, mean - x_t, (x_t - x) + likelihood_move)
                x = next_x
            progress(1)
        nfe = count * management.warmup
        return SampleResult(guard.finish(x), guard.step, nfe, nfe, trace)


class DPSGM(DPS):
    """DPS with SPGD's gradient management (docs/method.md, DPS-GM): ``warmup`` iterations per DDPM
    step, smoothed by ADM, then the ancestral move.

    :param Prior prior: as for ``DPS``.
    :param int steps: DDPM steps, 1 to 1000 (respaced below 1000); at ``steps * warmup`` network
        evaluations it costs what DPS costs at that many steps. Default 200.
    :param float zeta: step size of each iteration, >= 0 (a zeta tuned for DPS carries over). Default 1.
    :param bool clip_x0: clamp the x0 estimate to [-1, 1]. Default True.
    :param int warmup: gradient iterations per step, >= 1 (1 without momentum is DPS). Default 5.
    :param str adm: ``"released"``, ``"applied"`` or ``"off"``, as for ``SPGD``. Default ``"applied"``.
    :param float beta: ADM momentum weight, in [0, 1). Default 0.9.
    :param float lr_min_ratio: ``zeta`` decays linearly towards ``zeta * lr_min_ratio``, >= 0.
        Default 1 (constant).
    """

    name = "dps_gm"

    def __init__(self, prior, steps: int = 200, zeta: float = 1.0, clip_x0: bool = True, warmup: int = 5,
                 adm: str = "applied", beta: float = 0.9, lr_min_ratio: float = 1.0):
        super().__init__(prior, steps, zeta, clip_x0)
        self.warmup, self.adm, self.beta, self.lr_min_ratio = int(warmup), adm, float(beta), float(lr_min_ratio)
        self.gradient_management().check(self.name)

    def gradient_management(self) -> GradientManagement:
        return GradientManagement(self.warmup, self.adm, self.beta, self.zeta, self.lr_min_ratio)
