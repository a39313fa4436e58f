"""What all samplers share: the result type, NFE counting, the angle trace, divergence handling."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from ..operators import Operator
from ..priors import Prior
from ..seeding import NoiseStreams


def per_image_squared_norm(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1).pow(2).sum(1)


def _angle_from_norms(a, a_norm, b, b_norm) -> torch.Tensor:
    """Angle in degrees between rows of flattened a and b, given their norms."""
    cos = torch.linalg.vecdot(a, b) / (a_norm * b_norm).clamp_min(1e-30)
    return torch.rad2deg(torch.arccos(cos.clamp(-1, 1)))


def angle_degrees(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle between the flattened per-image vectors of a and b, in degrees, shape (B,)."""
    a, b = a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)
    return _angle_from_norms(a, torch.linalg.vector_norm(a, dim=1), b, torch.linalg.vector_norm(b, dim=1))


TRACE_COLUMNS = ["image", "level", "step", "inner", "sigma", "loss", "angle_prior_likelihood",
                 "angle_likelihood_consecutive", "angle_prior_consecutive"]


class AngleTrace:
    """Loss and the three gradient angles of the paper's Figure 1 (docs/method.md), per image, for each recorded update.

    ``record(level, step, inner, sigma, loss, prior_update, likelihood_update)`` stores
    angle(g_d, g_l), angle(g_l, previous g_l) and angle(g_d, previous g_d); previous vectors and
    their norms are kept per level ("step" or "warmup"). Values stay on the device until ``rows()``.
    """

    def __init__(self):
        self._records: list[tuple] = []
        self._previous: dict[str, tuple] = {}

    def record(self, level, step, inner, sigma, loss, prior_update, likelihood_update):
        g_d = prior_update.detach().reshape(prior_update.shape[0], -1)
        g_l = likelihood_update.detach().reshape(likelihood_update.shape[0], -1)
        d_norm, l_norm = torch.linalg.vector_norm(g_d, dim=1), torch.linalg.vector_norm(g_l, dim=1)
        previous = self._previous.get(level)
        if previous is None:
            consecutive_l = consecutive_d = torch.full_like(d_norm, math.nan)
        else:
            prev_d, prev_d_norm, prev_l, prev_l_norm = previous
            consecutive_l = _angle_from_norms(g_l, l_norm, prev_l, prev_l_norm)
            consecutive_d = _angle_from_norms(g_d, d_norm, prev_d, prev_d_norm)
        self._records.append((level, step, inner, float(sigma), loss.detach(),
                              _angle_from_norms(g_d, d_norm, g_l, l_norm), consecutive_l, consecutive_d))
        self._previous[level] = (g_d, d_norm, g_l, l_norm)

    def rows(self, image_ids: Sequence[object] | None = None) -> list[dict]:
        """Tidy rows: image, level, step, inner, sigma, loss, angle_prior_likelihood,
        angle_likelihood_consecutive, angle_prior_consecutive."""
        out = []
        for level, step, inner, sigma, *values in self._records:
            columns = [v.double().cpu().tolist() for v in values]
            for b, (loss, a_dl, a_ll, a_dd) in enumerate(zip(*columns)):
                out.append(dict(
                    image=image_ids[b] if image_ids is not None else b, level=level, step=step,
                    inner=inner, sigma=sigma, loss=loss, angle_prior_likelihood=a_dl,
                    angle_likelihood_consecutive=a_ll, angle_prior_consecutive=a_dd,
                ))
        return out


@dataclass
class SampleResult:
    """``x``: restored images (NaN where diverged); ``diverged_step``: -1 or the step where image b
    first became non-finite; NFE per image, forward and backward separately."""

    x: torch.Tensor
    diverged_step: torch.Tensor
    nfe_forward: int
    nfe_backward: int
    trace: AngleTrace | None = None
    info: dict = field(default_factory=dict)

    @property
    def diverged(self) -> torch.Tensor:
        return self.diverged_step >= 0


class DivergenceGuard:
    """Per-image NaN/inf tracking without coupling images or forcing a device sync.

    A diverged image is frozen at zeros (so it cannot poison anything) and returned as NaN.
    """

    def __init__(self, batch: int, device):
        self.step = torch.full((batch,), -1, dtype=torch.long, device=device)

    def check(self, x: torch.Tensor, step: int) -> torch.Tensor:
        # NaN and inf survive a sum, so one reduction per image finds them (a finite image whose
        # sum overflows float32 is diverged for any practical purpose).
        finite = torch.isfinite(x.reshape(x.shape[0], -1).sum(1))
        self.step = torch.where((self.step < 0) & ~finite, torch.full_like(self.step, step), self.step)
        return x.masked_fill((self.step >= 0).reshape(-1, *([1] * (x.dim() - 1))), 0.0)

    def finish(self, x: torch.Tensor) -> torch.Tensor:
        dead = (self.step >= 0).reshape(-1, *([1] * (x.dim() - 1)))
        return torch.where(dead, torch.full_like(x, math.nan), x)


class Sampler:
    """Base: ``sample(operator, y, seeds, trace=False) -> SampleResult`` for a batch aligned with
    ``operator.image_ids``; ``seeds`` are per-image noise seeds."""

    name = ""

    def __init__(self, prior: Prior):
        self.prior = prior

    def sample(self, operator: Operator, y: torch.Tensor, seeds: Sequence[int], trace: bool = False,
               progress: Callable[[int], object] | None = None) -> SampleResult:
        """``progress``, if given, is called with 1 after every outer step (e.g. a tqdm bar's update)."""
        if len(seeds) != y.shape[0] or len(operator.image_ids) != y.shape[0]:
            raise ValueError(
                f"{self.name}: batch mismatch: {y.shape[0]} measurements, {len(seeds)} seeds, "
                f"{len(operator.image_ids)} operator images"
            )
        shape = (y.shape[0], operator.channels, operator.image_size, operator.image_size)
        noise = NoiseStreams(seeds, device=y.device, dtype=y.dtype)
        return self._run(operator, y, shape, noise, AngleTrace() if trace else None, progress or (lambda n: None))

    @property
    def total_steps(self) -> int:
        return self.steps

    @property
    def planned_nfe(self) -> tuple[int, int]:
        """(forward, backward) network evaluations per image that ``sample`` will count; known from
        the settings alone (a sampler built with ``prior=None`` answers it, for compute plans)."""
        raise NotImplementedError

    def _run(self, operator, y, shape, noise: NoiseStreams, trace: AngleTrace | None, progress) -> SampleResult:
        raise NotImplementedError
