"""Forward operators ("tasks"): y = A(x) + sigma_y * n with per-image parameters.

An operator is built for a list of image ids and a seed. Its random parameters (masks, kernels,
kernel latents) are drawn per image (``spgd.seeding.operator_rng``), or once per task with
``shared=True`` (what the upstream code does: one mask or kernel for every image).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..seeding import NoiseStreams, measurement_noise_seed, operator_rng

SHARED_ID = "__shared__"


class Operator(torch.nn.Module):
    """A forward operator A with its measurement noise: ``operator(x)`` is A(x), ``measure(x)`` is
    A(x) + noise_sigma * n with per-image noise. Subclasses set ``name``, ``linear`` and
    ``default_noise_sigma``; those with per-image randomness override ``draw_parameters`` (one
    image's parameters as a numpy array); the stacked array is the ``params`` buffer, aligned with
    ``image_ids``.

    :param int image_size: side of the square images (pixels), >= 8; sizes that the paper gives at
        256 px (kernels, boxes, padding) scale with it.
    :param image_ids: one id per image of a batch (any objects with a stable ``str``); parameters and
        noise are drawn per id, so an image gets the same ones in any batch. Default ``(0,)``.
    :param int seed: the run's global seed (``spgd.seeding``). Default 0.
    :param float noise_sigma: standard deviation of the measurement noise in the operator's output
        space, >= 0. Default: the task's (the paper's ``sigma_y``).
    :param bool shared: one draw of the random parameters for every image, as upstream (one mask or
        kernel per run). Default False.
    :param int channels: image channels (3: RGB; 1 for the Gaussian-mixture tests). Default 3.
    """

    name: str = ""
    linear: bool = False
    default_noise_sigma: float = 0.05

    def __init__(
        self,
        image_size: int,
        image_ids: Sequence[object] = (0,),
        seed: int = 0,
        noise_sigma: float | None = None,
        shared: bool = False,
        channels: int = 3,
    ):
        super().__init__()
        if image_size < 8:
            raise ValueError(f"{self.name}: image_size must be >= 8, got {image_size}")
        if len(image_ids) == 0:
            raise ValueError(f"{self.name}: image_ids is empty")
        self.image_size = int(image_size)
        self.channels = int(channels)
        self.image_ids = list(image_ids)
        self.seed = int(seed)
        self.shared = bool(shared)
        self.noise_sigma = float(self.default_noise_sigma if noise_sigma is None else noise_sigma)
        if not (math.isfinite(self.noise_sigma) and self.noise_sigma >= 0):
            raise ValueError(f"{self.name}: noise_sigma must be a finite number >= 0, got {noise_sigma!r}")
        self.setup()
        draws = [self.draw_parameters(self._rng(i)) for i in self.image_ids]
        if draws[0] is not None:
            self.register_buffer("params", torch.as_tensor(np.stack(draws), dtype=torch.float32))

    def _rng(self, image_id: object) -> np.random.Generator:
        return operator_rng(self.seed, self.name, SHARED_ID if self.shared else image_id)

    def setup(self) -> None:
        """Derived sizes and fixed buffers; runs before parameters are drawn."""

    def draw_parameters(self, rng: np.random.Generator) -> np.ndarray | None:
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def measure(self, x: torch.Tensor) -> torch.Tensor:
        """A(x) plus Gaussian noise of std ``noise_sigma`` from per-image streams."""
        self.check_batch(x)
        clean = self(x)
        seeds = [measurement_noise_seed(self.seed, self.name, i) for i in self.image_ids]
        noise = NoiseStreams(seeds, device=clean.device, dtype=clean.dtype).like(clean)
        return clean + self.noise_sigma * noise

    def check_batch(self, x: torch.Tensor) -> None:
        expected = (len(self.image_ids), self.channels, self.image_size, self.image_size)
        if tuple(x.shape) != expected:
            raise ValueError(f"{self.name}: expected input of shape {expected}, got {tuple(x.shape)}")

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, images={len(self.image_ids)}, noise_sigma={self.noise_sigma}, shared={self.shared}"


def scaled_odd_size(size_at_256: int, image_size: int) -> int:
    """An odd length that scales with the image: 61 at 256 px, 17 at 64 px, 9 at 32 px."""
    half = round((size_at_256 - 1) / 2 * image_size / 256)
    return 2 * max(half, 1) + 1
