"""SPGD (docs/method.md, SPGD): Euler annealing on the EDM schedule with N likelihood-gradient warm-up
steps at each noise level, optionally smoothed by adaptive directional momentum (ADM); the warm-up
and ADM are ``spgd.samplers.gradient_management``.

``adm``: ``released`` steps with the raw gradient, as the published code does; ``applied`` steps
with the momentum (what the paper describes); ``off`` has no momentum. "No warm-up" is
``warmup=1``; "no ADM" is ``adm="off"`` (or ``beta=0``).
"""

from __future__ import annotations

import torch

from ..schedule import annealing_sigmas, check_positive, check_sigma_range, euler_factors
from .base import DivergenceGuard, SampleResult, Sampler, per_image_squared_norm
from .gradient_management import Evaluation, GradientManagement


class SPGD(Sampler):
    """Stabilized Progressive Gradient Diffusion (docs/method.md, SPGD).

    :param Prior prior: the denoiser D(x, sigma); its parameters are not trained.
    :param int steps: annealing steps K, >= 1 (paper 100). Default 100.
    :param int warmup: likelihood-gradient iterations N at each noise level, >= 1 (paper 5; 1 is the
        "no warm-up" ablation). Default 5.
    :param float lr: step size of the warm-up iterations, > 0, per task in the paper (SR 7, random
        inpainting 2.5, phase retrieval 2, the others 1). Default 1.
    :param float lr_min_ratio: the step size decays linearly with the step index from ``lr`` towards
        ``lr * lr_min_ratio``, >= 0 (1: constant). Default 0.01.
    :param float beta: ADM momentum weight, in [0, 1) (0: no momentum). Default 0.9.
    :param str adm: ``"released"`` (steps with the raw gradient, as the published code), ``"applied"``
        (steps with the momentum, as the paper describes) or ``"off"``. Default ``"released"``.
    :param bool recompute_x0: evaluate D once more at each level's final state instead of reusing the
        last warm-up estimate (K more evaluations). Default False.
    :param float sigma_max: the first noise level, > ``sigma_min``. Default 100.
    :param float sigma_min: the last non-zero noise level, > 0. Default 0.1.
    """

    name = "spgd"

    def __init__(self, prior, steps: int = 100, warmup: int = 5, lr: float = 1.0,
                 lr_min_ratio: float = 0.01, beta: float = 0.9, adm: str = "released",
                 recompute_x0: bool = False, sigma_max: float = 100.0, sigma_min: float = 0.1):
        super().__init__(prior)
        if int(steps) < 1:
            raise ValueError(f"spgd: steps must be >= 1, got {steps}")
        self.steps, self.warmup, self.lr, self.lr_min_ratio = int(steps), int(warmup), float(lr), float(lr_min_ratio)
        self.beta, self.adm, self.recompute_x0 = float(beta), adm, bool(recompute_x0)
        self.gradient_management().check("spgd")
        check_positive("spgd: lr", lr)
        check_sigma_range("spgd", sigma_max, sigma_min)
        self.sigma_max, self.sigma_min = float(sigma_max), float(sigma_min)

    def gradient_management(self) -> GradientManagement:
        return GradientManagement(self.warmup, self.adm, self.beta, self.lr, self.lr_min_ratio)

    @property
    def planned_nfe(self) -> tuple[int, int]:
        warm = self.steps * self.warmup
        return warm + (self.steps if self.recompute_x0 else 0), warm

    def _run(self, operator, y, shape, noise, trace, progress):
        sigmas = annealing_sigmas(self.steps, self.sigma_max, self.sigma_min)
        factors = euler_factors(sigmas)
        management = self.gradient_management()
        guard = DivergenceGuard(shape[0], y.device)
        x = self.sigma_max * noise.next(shape[1:])
        nfe_forward = nfe_backward = 0
        for i in range(self.steps):
            sigma = float(sigmas[i])

            def likelihood(x_t):
                x0 = self.prior.denoise(x_t, sigma)
                loss = per_image_squared_norm(operator(x0) - y)
                return Evaluation(loss, loss, x0)

            x_step_start = x
            warmed = management.warm_up(x, likelihood, management.step_size(i, self.steps), guard, i, sigma, trace)
            nfe_forward += warmed.nfe
            nfe_backward += warmed.nfe
            x, x0, x_prev = warmed.x, warmed.x0, warmed.x_prev
            if self.recompute_x0:
                with torch.no_grad():
                    x0 = self.prior.denoise(x, sigma)
                nfe_forward += 1
                x_prev = x
            x_warm = x
            x = guard.check(x + (float(factors[i]) / 2) * (x0 - x_prev) / sigma**2, i)
            if trace is not None:
                trace.record("step", i, -1, sigma, warmed.loss, x - x_warm, x_warm - x_step_start)
            progress(1)
        return SampleResult(guard.finish(x), guard.step, nfe_forward, nfe_backward, trace)
