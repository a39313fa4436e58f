"""Nonlinear operators without learned weights: phase retrieval and HDR."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..schedule import check_positive
from .base import Operator


class PhaseRetrieval(Operator):
    """Fourier amplitude of (x+1)/2 zero-padded by int(oversample/8 * H) per side (64 at 256),
    centred orthonormal 2-D FFT per channel. Invariant to a global sign flip of (x+1)/2, to
    circular shifts and to the point reflection of the padded image.

    :param float oversample: zero padding per side as a multiple of H/8, >= 0. Default 2 (64 px at 256).

    Common parameters (``Operator``): ``image_size``, ``image_ids``, ``seed``, ``noise_sigma``
    (default 0.05), ``shared``, ``channels``.
    """

    name = "phase_retrieval"
    default_noise_sigma = 0.05

    def __init__(self, image_size: int, *args, oversample: float = 2.0, **kwargs):
        if not (math.isfinite(oversample) and oversample >= 0):
            raise ValueError(f"phase_retrieval: oversample must be a finite number >= 0, got {oversample!r}")
        self.oversample = float(oversample)
        super().__init__(image_size, *args, **kwargs)

    def setup(self) -> None:
        self.pad = int(self.oversample / 8.0 * self.image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        padded = F.pad((x + 1) / 2, (self.pad,) * 4)
        spectrum = torch.fft.fft2(padded, norm="ortho")
        return torch.fft.fftshift(spectrum.abs(), dim=(-2, -1))


class HighDynamicRange(Operator):
    """clip(scale * x, -1, 1).

    :param float scale: the exposure factor, > 0. Default 2.

    Common parameters (``Operator``): ``image_size``, ``image_ids``, ``seed``, ``noise_sigma``
    (default 0.05), ``shared``, ``channels``.
    """

    name = "hdr"
    default_noise_sigma = 0.05

    def __init__(self, image_size: int, *args, scale: float = 2.0, **kwargs):
        check_positive("hdr: scale", scale)
        self.scale = float(scale)
        super().__init__(image_size, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.scale * x, -1, 1)
