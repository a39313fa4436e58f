"""Inpainting: A(x) = x * mask, one mask for all channels; masked pixels still get noise."""

from __future__ import annotations

import numpy as np
import torch

from .base import Operator


class _MaskOperator(Operator):
    linear = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.params


class BoxInpainting(_MaskOperator):
    """One square box of half the image side (128 at 256) removed; its top-left corner is uniform
    in [H/8, 3H/8] per axis ([32, 96] at 256), both ends included. Both sizes scale with the image.

    No parameters of its own.
    Common parameters (``Operator``): ``image_size``, ``image_ids``, ``seed``, ``noise_sigma``
    (default 0.05), ``shared``, ``channels``.
    """

    name = "box_inpainting"
    default_noise_sigma = 0.05

    def setup(self) -> None:
        self.box = self.image_size // 2
        self.corner_range = (self.image_size // 8, 3 * self.image_size // 8)

    def draw_parameters(self, rng: np.random.Generator) -> np.ndarray:
        lo, hi = self.corner_range
        top, left = rng.integers(lo, hi + 1, size=2)
        mask = np.ones((1, self.image_size, self.image_size), dtype=np.float32)
        mask[:, top : top + self.box, left : left + self.box] = 0
        return mask


class RandomInpainting(_MaskOperator):
    """A fraction ``drop`` (0.8) of the pixels removed, chosen uniformly without replacement, the same
    pixels in every channel.

    :param float drop: the fraction of pixels removed, in [0, 1). Default 0.8.

    Common parameters (``Operator``): ``image_size``, ``image_ids``, ``seed``, ``noise_sigma``
    (default 0.01), ``shared``, ``channels``.
    """

    name = "random_inpainting"
    default_noise_sigma = 0.01

    def __init__(self, image_size: int, *args, drop: float = 0.8, **kwargs):
        if not 0 <= drop < 1:
            raise ValueError(f"random_inpainting: drop must be in [0, 1), got {drop}")
        self.drop = float(drop)
        super().__init__(image_size, *args, **kwargs)

    def draw_parameters(self, rng: np.random.Generator) -> np.ndarray:
        pixels = self.image_size**2
        mask = np.ones(pixels, dtype=np.float32)
        mask[rng.permutation(pixels)[: int(round(self.drop * pixels))]] = 0
        return mask.reshape(1, self.image_size, self.image_size)
