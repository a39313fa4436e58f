"""Super-resolution: MATLAB-style antialiased bicubic downscaling (imresize), as a matrix per axis."""

from __future__ import annotations

import math

import numpy as np
import torch

from .base import Operator


def _keys_cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    near = ((a + 2) * ax3 - (a + 3) * ax2 + 1) * (ax <= 1)
    far = (a * ax3 - 5 * a * ax2 + 8 * a * ax - 4 * a) * ((ax > 1) & (ax <= 2))
    return near + far


def imresize_matrix(in_length: int, scale: float) -> np.ndarray:
    """The (out, in) matrix of MATLAB ``imresize(..., scale, 'bicubic')`` along one axis.

    For scale < 1 the kernel is stretched by 1/scale (antialiasing); weights are normalised per
    output sample and out-of-range taps are mirrored (MATLAB's symmetric boundary).
    """
    out_length = int(math.ceil(in_length * scale))
    kernel_width = 4.0 / scale if scale < 1 else 4.0
    stretch = scale if scale < 1 else 1.0
    u = np.arange(1, out_length + 1, dtype=np.float64)
    centre = u / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(centre - kernel_width / 2)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]
    weights = stretch * _keys_cubic(stretch * (centre[:, None] - indices))
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    source = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    matrix = np.zeros((out_length, in_length))
    np.add.at(matrix, (np.repeat(np.arange(out_length), taps), source.ravel()), weights.ravel())
    return matrix


class SuperResolution(Operator):
    """SR x``factor``: y = W x W^T per channel, W the imresize matrix (256 -> 64 at factor 4).

    :param int factor: downsampling factor, an integer >= 1 dividing ``image_size``. Default 4.

    Common parameters (``Operator``): ``image_size``, ``image_ids``, ``seed``, ``noise_sigma``
    (default 0.01), ``shared``, ``channels``.
    """

    name = "sr4"
    linear = True
    default_noise_sigma = 0.01

    def __init__(self, image_size: int, *args, factor: int = 4, **kwargs):
        if isinstance(factor, bool) or int(factor) != factor or factor < 1:
            raise ValueError(f"sr4: factor must be an integer >= 1, got {factor!r}")
        self.factor = int(factor)
        if image_size % self.factor:
            raise ValueError(f"sr4: the image size {image_size} is not divisible by the factor {self.factor}")
        super().__init__(image_size, *args, **kwargs)

    def setup(self) -> None:
        matrix = imresize_matrix(self.image_size, 1.0 / self.factor)
        self.register_buffer("matrix", torch.as_tensor(matrix, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.matrix @ x @ self.matrix.T
