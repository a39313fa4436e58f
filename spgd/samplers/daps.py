"""DAPS-1K (docs/method.md, DAPS): decoupled annealing. At each noise level: an x0 estimate by a short
probability-flow ODE (no gradient), Langevin dynamics on x0 for the measurement given that
estimate (no network gradient), then re-noising to the next level."""

from __future__ import annotations

import math

import torch

from ..schedule import annealing_sigmas, check_non_negative, check_positive, check_sigma_range, linear_decay
from .base import DivergenceGuard, SampleResult, Sampler, per_image_squared_norm


class DAPS(Sampler):
    """Decoupled annealing posterior sampling, DAPS-1K (Zhang et al. 2025; docs/method.md, DAPS).

    :param Prior prior: the denoiser D(x, sigma); no gradient goes through it.
    :param int steps: annealing steps K, >= 1 (paper 200). Default 200.
    :param int ode_steps: Euler steps of the probability-flow ODE that estimates x0 at each level,
        >= 1. Default 5.
    :param int langevin_steps: Langevin steps on x0 at each level, >= 1. Default 100.
    :param float lr: Langevin step size, > 0, per task in the paper (1e-4 down to 2e-5). Default 1e-4.
    :param float lr_min_ratio: the step size decays linearly towards ``lr * lr_min_ratio``, >= 0.
        Default 0.01.
    :param float tau: the measurement noise level the Langevin likelihood assumes, > 0. Default 0.01.
    :param float sigma_max: the first noise level, > ``sigma_min``. Default 100.
    :param float sigma_min: the last non-zero noise level, > 0. Default 0.1.
    :param float ode_sigma_min: where each x0 ODE stops before its last step to 0, > 0. Default 0.01.
    """

    name = "daps"

    def __init__(self, prior, steps: int = 200, ode_steps: int = 5, langevin_steps: int = 100,
                 lr: float = 1e-4, lr_min_ratio: float = 0.01, tau: float = 0.01,
                 sigma_max: float = 100.0, sigma_min: float = 0.1, ode_sigma_min: float = 0.01):
        super().__init__(prior)
        for key, value in dict(steps=steps, ode_steps=ode_steps, langevin_steps=langevin_steps).items():
            if int(value) < 1:
                raise ValueError(f"daps: {key} must be >= 1, got {value}")
        check_positive("daps: lr", lr)
        check_positive("daps: tau", tau)
        check_non_negative("daps: lr_min_ratio", lr_min_ratio)
        check_sigma_range("daps", sigma_max, sigma_min)
        check_positive("daps: ode_sigma_min", ode_sigma_min)
        self.steps, self.ode_steps, self.langevin_steps = int(steps), int(ode_steps), int(langevin_steps)
        self.lr, self.lr_min_ratio, self.tau = float(lr), float(lr_min_ratio), float(tau)
        self.sigma_max, self.sigma_min, self.ode_sigma_min = float(sigma_max), float(sigma_min), float(ode_sigma_min)

    @property
    def planned_nfe(self) -> tuple[int, int]:
        return self.steps * self.ode_steps, 0  # the Langevin steps never call the network

    @torch.no_grad()
    def _ode_x0(self, x: torch.Tensor, sigma: float) -> torch.Tensor:
        """Euler probability-flow ODE from sigma to 0 on the EDM schedule sigma..ode_sigma_min, 0."""
        sigmas = annealing_sigmas(self.ode_steps, sigma, min(self.ode_sigma_min, sigma / 2))
        for k in range(self.ode_steps):
            s, s_next = float(sigmas[k]), float(sigmas[k + 1])
            x = x + (s_next - s) * (x - self.prior.denoise(x, s)) / s
        return x

    def _run(self, operator, y, shape, noise, trace, progress):
        sigmas = annealing_sigmas(self.steps, self.sigma_max, self.sigma_min)
        guard = DivergenceGuard(shape[0], y.device)
        x = self.sigma_max * noise.next(shape[1:])
        for i in range(self.steps):
            sigma, sigma_next = float(sigmas[i]), float(sigmas[i + 1])
            x0_hat = self._ode_x0(x, sigma)
            lr = linear_decay(self.lr, i, self.steps, self.lr_min_ratio)
            x0 = x0_hat
            noise_scale = math.sqrt(2 * lr)
            for _ in range(self.langevin_steps):
                # grad of ||A(x0) - y||^2 / (2 tau^2) + ||x0 - x0_hat||^2 / (2 sigma^2): the operator
                # part by a vector-Jacobian product, the quadratic part in closed form
                x0 = x0.detach().requires_grad_(True)
                measured = operator(x0)
                (data_grad,) = torch.autograd.grad(measured, x0, grad_outputs=measured.detach() - y)
                with torch.no_grad():
                    grad = data_grad / self.tau**2 + (x0 - x0_hat) / sigma**2
                    x0 = x0 - lr * grad + noise_scale * noise.like(x0)
            x0 = guard.check(x0.detach(), i)
            if trace is not None:
                with torch.no_grad():
                    loss = per_image_squared_norm(operator(x0) - y)
                trace.record("step", i, -1, sigma, loss, x0_hat - x, x0 - x0_hat)
            x = x0 + sigma_next * noise.like(x0) if i + 1 < self.steps else x0
            progress(1)
        nfe = self.steps * self.ode_steps
        return SampleResult(guard.finish(x), guard.step, nfe, 0, trace)
