"""Classical restorations the learned demo prior must beat: bicubic upsampling for SR, a
masked-neighbour fill for random inpainting, and scikit-image's denoisers (parameters chosen by
the caller, e.g. the best of a grid)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def bicubic_upsample(y: torch.Tensor, factor: int) -> torch.Tensor:
    """Bicubic x``factor`` upsampling of low-resolution images in [-1, 1]."""
    return F.interpolate(y, scale_factor=factor, mode="bicubic", align_corners=False).clamp(-1, 1)


def masked_neighbour_fill(y: torch.Tensor, mask: torch.Tensor, max_window: int = 15) -> torch.Tensor:
    """Keep observed pixels; fill each missing one with the mean of the observed pixels in the
    smallest square window (3, 5, ...) that holds any (normalised box convolution)."""
    mask = mask.expand_as(y).to(y.dtype)
    filled, done = y * mask, mask.bool()
    for window in range(3, max_window + 1, 2):
        if done.all():
            break
        kernel = torch.ones(y.shape[1], 1, window, window, dtype=y.dtype, device=y.device)
        total = F.conv2d(y * mask, kernel, padding=window // 2, groups=y.shape[1])
        count = F.conv2d(mask, kernel, padding=window // 2, groups=y.shape[1])
        new = ~done & (count > 0)
        filled = torch.where(new, total / count.clamp_min(1), filled)
        done = done | new
    return filled


def skimage_denoise(method: str, noisy01: np.ndarray, sigma: float, strength: float) -> np.ndarray:
    """One of scikit-image's denoisers on an H x W x 3 image in [0, 1] with noise std ``sigma``;
    ``strength`` scales its main parameter (h for NL-means, the threshold for wavelets via
    ``sigma``, the weight for TV)."""
    from skimage import restoration

    if method == "nl_means":
        return restoration.denoise_nl_means(noisy01, h=strength * sigma, sigma=sigma, patch_size=5,
                                            patch_distance=6, fast_mode=True, channel_axis=-1)
    if method == "wavelet":
        return restoration.denoise_wavelet(noisy01, sigma=strength * sigma, method="BayesShrink", mode="soft",
                                           rescale_sigma=True, channel_axis=-1, convert2ycbcr=True)
    if method == "tv_chambolle":
        return restoration.denoise_tv_chambolle(noisy01, weight=strength * sigma, channel_axis=-1)
    raise ValueError(f"unknown denoiser {method!r}")


SKIMAGE_DENOISERS = ("nl_means", "wavelet", "tv_chambolle")
