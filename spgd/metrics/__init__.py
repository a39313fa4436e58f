"""Image-quality metrics (docs/method.md, Metrics), each named for what it is.

Per image: ``psnr``, ``ssim`` (Wang et al., Gaussian window 11 / std 1.5), ``lpips_alex`` and
``lpips_vgg`` (the standard ``lpips`` package), ``lpips_vgg_avgpool`` (the variant upstream
SPGD/DAPS report). Per image set: ``fid`` and ``kid`` (pytorch-fid's TF-Inception features).
The networks come from torch's hub cache, filled by ``weights.provision``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .distribution import (frechet_distance, gaussian_frechet_distance, inception_features,
                           kernel_inception_distance)
from .perceptual import LPIPS_VARIANTS, lpips_distance
from .pixel import psnr, ssim, to_unit_range
from .weights import WEIGHT_FILES, MetricUnavailable, provision, unavailable_metrics

PER_IMAGE_METRICS = ("psnr", "ssim", *LPIPS_VARIANTS)
SET_METRICS = ("fid", "kid")
METRICS = (*PER_IMAGE_METRICS, *SET_METRICS)
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "lpips_alex": False, "lpips_vgg": False,
                    "lpips_vgg_avgpool": False, "fid": False, "kid": False}
LABELS = {"psnr": "PSNR", "ssim": "SSIM", "lpips_alex": "LPIPS-Alex", "lpips_vgg": "LPIPS-VGG",
          "lpips_vgg_avgpool": "LPIPS-VGG-avgpool (SPGD/DAPS)", "fid": "FID", "kid": "KID"}
FORMATS = {"psnr": ".2f", "ssim": ".3f", "lpips_alex": ".3f", "lpips_vgg": ".3f", "lpips_vgg_avgpool": ".3f",
           "fid": ".1f", "kid": ".4f"}
DESCRIPTIONS = {
    "psnr": "dB, data range 1; +inf for an exact restoration",
    "ssim": "Gaussian window 11, std 1.5, K1 0.01, K2 0.03, valid convolution (as piq and upstream)",
    "lpips_alex": "standard LPIPS v0.1 with AlexNet (the field's default), lpips package",
    "lpips_vgg": "standard LPIPS v0.1 with VGG16, lpips package",
    "lpips_vgg_avgpool": "the LPIPS upstream SPGD/DAPS report: VGG16 with average pooling (piq's "
                         "replace_pooling=True), v0.1 heads; not comparable with standard LPIPS",
    "fid": "pytorch-fid, TF-Inception 2015-12-05 pool3, float64, on the saved PNGs; below 2048 "
           "images the covariance is rank-deficient and FID is biased upwards",
    "kid": "unbiased MMD^2, cubic polynomial kernel, mean over subsets of up to 1000 images",
}


def per_image_metric(metric: str, restored: torch.Tensor, reference: torch.Tensor,
                     hub_dir: str | Path | None = None, device: str = "cpu") -> torch.Tensor:
    """(B,) values of one per-image metric; LPIPS variants need ``hub_dir`` (raises
    MetricUnavailable when their network is missing)."""
    if metric == "psnr":
        return psnr(restored, reference)
    if metric == "ssim":
        return ssim(restored, reference)
    if metric in LPIPS_VARIANTS:
        if hub_dir is None:
            raise MetricUnavailable(f"{metric}: no torch hub directory given for its network")
        return lpips_distance(metric, restored, reference, hub_dir, device)
    raise ValueError(f"unknown per-image metric {metric!r}; expected one of {PER_IMAGE_METRICS}")


__all__ = ["METRICS", "PER_IMAGE_METRICS", "SET_METRICS", "HIGHER_IS_BETTER", "LABELS", "FORMATS",
           "DESCRIPTIONS",
           "MetricUnavailable", "WEIGHT_FILES", "provision", "unavailable_metrics", "per_image_metric",
           "psnr", "ssim", "to_unit_range", "lpips_distance", "frechet_distance", "gaussian_frechet_distance",
           "inception_features", "kernel_inception_distance"]
