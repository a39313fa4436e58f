"""Gradient management (docs/method.md, SPGD), one implementation for every sampler that uses it: at a
fixed noise level, N likelihood-gradient iterations (the warm-up) on the noisy state, each step
optionally smoothed by adaptive directional momentum (ADM), with a step size that decays linearly
over the outer steps. SPGD uses it inside its Euler annealing, DPS-GM inside DDPM sampling.

``adm``: ``released`` steps with the raw gradient, as SPGD's published code does (it computes the
momentum and discards it; the dead computation is skipped, so ``released`` and ``off`` give the same
images at the same cost); ``applied`` steps with the momentum (what the paper describes); ``off``
has no momentum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch

from ..schedule import check_non_negative, linear_decay

ADM_MODES = ("released", "applied", "off")


class Evaluation(NamedTuple):
    """What a sampler's likelihood gives at one state: ``objective`` (B,) is differentiated with
    respect to the state, ``loss`` (B,) is what the trace records, ``x0`` the prior's estimate,
    ``extra`` anything else the network call returned (DPS's learned variance)."""

    objective: torch.Tensor
    loss: torch.Tensor
    x0: torch.Tensor
    extra: object = None


class Warmed(NamedTuple):
    """The warm-up's outcome: ``x`` the warmed state; ``x_prev``, ``x0``, ``extra`` and ``loss`` of
    the last evaluation (the state it was taken at, detached); ``update`` the last step direction
    (the state moved by ``-eta * update`` from ``x_prev`` to ``x``); ``nfe`` network evaluations,
    each with a backward pass."""

    x: torch.Tensor
    x_prev: torch.Tensor
    x0: torch.Tensor
    extra: object
    loss: torch.Tensor
    update: torch.Tensor
    nfe: int


@dataclass(frozen=True)
class GradientManagement:
    """Warm-up count, ADM mode and momentum ``beta``, step size ``lr`` decayed linearly to
    ``lr * lr_min_ratio`` over the outer steps (``lr_min_ratio=1``: constant)."""

    warmup: int = 5
    adm: str = "released"
    beta: float = 0.9
    lr: float = 1.0
    lr_min_ratio: float = 0.01

    def check(self, owner: str) -> None:
        """Raise ValueError naming ``owner`` for a setting out of range (the step size is the
        owner's to check: SPGD needs it positive, DPS accepts zero)."""
        if self.adm not in ADM_MODES:
            raise ValueError(f"{owner}: adm must be one of {ADM_MODES}, got {self.adm!r}")
        if self.warmup < 1:
            raise ValueError(f"{owner}: warmup must be >= 1, got {self.warmup}")
        if not 0 <= self.beta < 1:
            raise ValueError(f"{owner}: beta must be in [0, 1), got {self.beta}")
        check_non_negative(f"{owner}: lr_min_ratio", self.lr_min_ratio)

    def step_size(self, step: int, steps: int) -> float:
        return linear_decay(self.lr, step, steps, self.lr_min_ratio)

    def warm_up(self, x: torch.Tensor, evaluate: Callable[[torch.Tensor], Evaluation], eta: float, guard, step: int,
                sigma: float, trace=None) -> Warmed:
        """``warmup`` iterations ``x <- x - eta * d``, d the gradient of ``evaluate(x).objective``
        or its ADM momentum; momentum starts afresh at every call. Each iterate passes ``guard``
        (divergence at ``step``); each is traced as a ``warmup`` row (g_d = x0 - x, g_l = -d)."""
        momentum = None
        for j in range(self.warmup):
            x_prev = x.detach().requires_grad_(True)
            evaluation = evaluate(x_prev)
            (grad,) = torch.autograd.grad(evaluation.objective.sum(), x_prev)
            x0, x_prev = evaluation.x0.detach(), x_prev.detach()
            if self.adm == "applied":
                momentum = grad if j == 0 else adm_momentum(momentum, grad, self.beta)
            update = momentum if self.adm == "applied" else grad
            x = guard.check(x_prev - eta * update, step)
            if trace is not None:
                trace.record("warmup", step, j, sigma, evaluation.loss, x0 - x_prev, -update)
        return Warmed(x, x_prev, x0, evaluation.extra, evaluation.loss, update, self.warmup)


def adm_momentum(momentum: torch.Tensor, grad: torch.Tensor, beta: float, eps: float = 1e-8) -> torch.Tensor:
    """ADM update: m <- alpha beta m + (1 - alpha beta) g, alpha = (mean over pixels of the
    cosine of g and m across channels + 1) / 2, one alpha per image."""
    dot = (grad * momentum).sum(1)
    squared_norms = grad.square().sum(1) * momentum.square().sum(1)
    cosine = dot / squared_norms.clamp_min(eps * eps).sqrt()  # F.cosine_similarity's definition
    keep = beta * ((cosine.flatten(1).mean(1) + 1) / 2).reshape(-1, 1, 1, 1)
    return keep * momentum + (1 - keep) * grad
