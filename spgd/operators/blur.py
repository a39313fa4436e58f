"""Blur operators: depthwise cross-correlation with a per-image kernel, reflect padding, same size."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter

from ..schedule import check_positive
from .base import Operator, scaled_odd_size


def blur(x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
    """Cross-correlate every channel of image b with ``kernels[b]`` (shape (B, 1, k, k))."""
    batch, channels, height, width = x.shape
    pad = kernels.shape[-1] // 2
    padded = F.pad(x.reshape(1, batch * channels, height, width), (pad,) * 4, mode="reflect")
    weight = kernels.repeat_interleave(channels, dim=0)
    return F.conv2d(padded, weight, groups=batch * channels).reshape(batch, channels, height, width)


def gaussian_kernel(size: int, std: float) -> np.ndarray:
    """The upstream kernel: ``scipy.ndimage.gaussian_filter`` of a centred delta (separable,
    truncated at 4 std, i.e. zero beyond radius int(4 std + 0.5), reflect boundary)."""
    from scipy.ndimage import gaussian_filter

    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    return gaussian_filter(delta, sigma=std)


def motion_kernel(rng: np.random.Generator, size: int = 61, intensity: float = 0.5) -> np.ndarray:
    """A random camera-shake kernel (the "MotionBlur" random-trajectory generator), summing to 1.

    A path of random steps whose angle drifts and sometimes flips is drawn as a 1-px polyline on a
    canvas twice the kernel size, blurred, resized to ``size`` (Lanczos) and normalised.
    """
    canvas = 2 * size
    diagonal = canvas * math.sqrt(2)
    max_length = 0.75 * diagonal * (rng.uniform(0, 1) + rng.uniform(0, intensity**2))
    steps = []
    while sum(steps) < max_length:
        step = rng.beta(1, 30) * (1 - intensity + 0.1) * diagonal
        if step < max_length:
            steps.append(step)
    max_angle = rng.uniform(0, intensity * math.pi)
    jitter = rng.beta(2, 20)
    angles = [rng.uniform(-max_angle, max_angle)]
    for _ in steps[1:]:
        angle = rng.triangular(0, intensity * max_angle, max_angle + 0.1)
        if rng.uniform() < jitter:
            angle *= -np.sign(angles[-1])
        else:
            angle *= np.sign(angles[-1])
        angles.append(angle)
    path = np.cumsum(np.array(steps) * np.exp(1j * np.array(angles)))
    path -= path.mean()
    path *= np.exp(1j * rng.uniform(0, math.pi))
    path += (canvas + 1j * canvas) / 2
    image = Image.new("RGB", (canvas, canvas))
    ImageDraw.Draw(image).line([(p.real, p.imag) for p in path], fill=(255, 255, 255), width=1)
    image = image.filter(ImageFilter.GaussianBlur(radius=1))
    image = image.resize((size, size), resample=Image.LANCZOS).convert("L")
    kernel = np.asarray(image, dtype=np.float64)
    if kernel.sum() <= 0:  # a path that left the canvas entirely; a delta keeps A well defined
        kernel = np.zeros((size, size))
        kernel[size // 2, size // 2] = 1.0
    return kernel / kernel.sum()


class _BlurOperator(Operator):
    linear = True
    default_noise_sigma = 0.01

    def __init__(self, image_size: int, *args, kernel_size: int | None = None, **kwargs):
        self.kernel_size = scaled_odd_size(61, image_size) if kernel_size is None else int(kernel_size)
        if self.kernel_size < 1 or self.kernel_size % 2 == 0 or self.kernel_size // 2 >= image_size:
            raise ValueError(f"{self.name}: kernel_size must be odd, >= 1 and less than twice the image size "
                             f"{image_size}, got {self.kernel_size}")
        super().__init__(image_size, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return blur(x, self.params)


class GaussianBlur(_BlurOperator):
    """Gaussian kernel 61x61 with std 3.0 at 256 px; both scale with the image (17 and 0.75 at 64).

    :param int kernel_size: odd kernel side, >= 1, below twice the image size. Default 61 at 256 px,
        scaled with ``image_size``.
    :param float std: the kernel's standard deviation in pixels, > 0 (zero beyond 4 std, as upstream).
        Default 3 at 256 px, scaled with ``image_size``.

    Common parameters (``Operator``): ``image_size``, ``image_ids``, ``seed``, ``noise_sigma``
    (default 0.01), ``shared``, ``channels``.
    """

    name = "gaussian_blur"

    def __init__(self, image_size: int, *args, std: float | None = None, **kwargs):
        self.std = 3.0 * image_size / 256 if std is None else std
        check_positive("gaussian_blur: std", self.std)
        super().__init__(image_size, *args, **kwargs)

    def draw_parameters(self, rng: np.random.Generator) -> np.ndarray:
        return gaussian_kernel(self.kernel_size, self.std)[None].astype(np.float32)


class MotionBlur(_BlurOperator):
    """Random-trajectory motion kernel, 61x61 at 256 px (scaled with the image), intensity 0.5.

    :param int kernel_size: odd kernel side, as for ``GaussianBlur``. Default 61 at 256 px, scaled.
    :param float intensity: how far and how erratically the trajectory moves, in (0, 1]. Default 0.5.

    Common parameters (``Operator``): ``image_size``, ``image_ids``, ``seed``, ``noise_sigma``
    (default 0.01), ``shared``, ``channels``.
    """

    name = "motion_blur"

    def __init__(self, image_size: int, *args, intensity: float = 0.5, **kwargs):
        if not 0 < intensity <= 1:
            raise ValueError(f"motion_blur: intensity must be in (0, 1], got {intensity!r}")
        self.intensity = float(intensity)
        super().__init__(image_size, *args, **kwargs)

    def draw_parameters(self, rng: np.random.Generator) -> np.ndarray:
        return motion_kernel(rng, self.kernel_size, self.intensity)[None].astype(np.float32)
