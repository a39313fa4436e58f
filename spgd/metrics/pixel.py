"""PSNR and SSIM per image, on images mapped from [-1, 1] to [0, 1] and clipped, in float64.

PSNR uses data range 1; an exact match gives +inf (stated, not capped). SSIM is Wang et al.'s
with a Gaussian window of size 11 and std 1.5, K1 = 0.01, K2 = 0.03, valid convolution, per
channel then averaged (the definition piq uses and upstream SPGD/DAPS report).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_unit_range(x: torch.Tensor) -> torch.Tensor:
    return ((x.double() + 1) / 2).clamp(0, 1)


def psnr(restored: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(B,) PSNR in dB, per image, with data range 1 after mapping to [0, 1] and clipping; +inf where
    identical (not capped).

    :param torch.Tensor restored: images (B, C, H, W) in [-1, 1] (values outside are clipped).
    :param torch.Tensor reference: the ground truths, same shape.
    """
    mse = (to_unit_range(restored) - to_unit_range(reference)).square().flatten(1).mean(1)
    return 10 * torch.log10(1 / mse)


def _gaussian_window(size: int = 11, std: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * std**2))
    g /= g.sum()
    return torch.outer(g, g)


def ssim(restored: torch.Tensor, reference: torch.Tensor, window: int = 11, std: float = 1.5) -> torch.Tensor:
    """(B,) SSIM per image (Wang et al. 2004, as piq computes it: Gaussian window, K1 0.01, K2 0.03,
    valid convolution, per channel then averaged), after mapping to [0, 1] and clipping.

    :param torch.Tensor restored: images (B, C, H, W) in [-1, 1], at least ``window`` px on each side.
    :param torch.Tensor reference: the ground truths, same shape.
    :param int window: side of the Gaussian window, odd, >= 1. Default 11.
    :param float std: its standard deviation in pixels, > 0. Default 1.5.
    """
    a, b = to_unit_range(restored), to_unit_range(reference)
    if min(a.shape[-2:]) < window:
        raise ValueError(f"ssim: images of {tuple(a.shape[-2:])} px are smaller than the {window}-px window")
    channels = a.shape[1]
    kernel = _gaussian_window(window, std).to(a.device).expand(channels, 1, window, window)
    blur = lambda t: F.conv2d(t, kernel, groups=channels)
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return index.flatten(2).mean(2).mean(1)

