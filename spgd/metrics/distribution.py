"""FID and KID between two image sets, on pytorch-fid's TF-Inception (2015-12-05) pool3 features.

Features come from the saved PNGs through pytorch-fid (its loader, resizing and network) and are
kept in float64. Both statistics state the number of images: the standard FID uses 50,000 images,
and below 2,048 (the feature dimension) the covariance is rank-deficient, FID is strongly biased
upwards and only comparable at equal N; KID (Binkowski et al. 2018: unbiased MMD^2, cubic
polynomial kernel, averaged over random subsets) is unbiased at any N >= 2.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch

from .weights import MetricUnavailable, require, using_hub_dir

FEATURE_DIM = 2048
BATCH_SIZE = 50  # fixed, so features never depend on how a caller batches


@functools.cache
def inception_model(hub_dir: str, device: str = "cpu") -> torch.nn.Module:
    require(hub_dir, "inception")
    from .._torchvision_compat import import_torchvision

    import_torchvision()
    from pytorch_fid.inception import InceptionV3

    with using_hub_dir(hub_dir):
        model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[FEATURE_DIM]])
    return model.eval().requires_grad_(False).to(device)


def inception_features(paths: list[str | Path], hub_dir: str | Path, device: str = "cpu") -> np.ndarray:
    """(N, 2048) float64 pool3 features of image files (pytorch-fid's loader: PIL, RGB, [0, 1])."""
    if not paths:
        raise MetricUnavailable("no images to compute features of")
    model = inception_model(str(hub_dir), str(device))  # imports torchvision safely first
    from pytorch_fid.fid_score import get_activations

    return get_activations([str(p) for p in paths], model, batch_size=min(BATCH_SIZE, len(paths)),
                           dims=FEATURE_DIM, device=device, num_workers=0).astype(np.float64)


def _trace_sqrt_product(factor_a: np.ndarray, factor_b: np.ndarray) -> float:
    """Tr sqrt(A B) for A = Fa Fa^T, B = Fb Fb^T: the nuclear norm of Fa^T Fb.

    (The nonzero eigenvalues of A B are those of (Fa^T Fb)(Fa^T Fb)^T.) Exact for rank-deficient
    covariances, and small when a factor has fewer columns than the dimension."""
    return float(np.linalg.svd(factor_a.T @ factor_b, compute_uv=False).sum())


def _covariance_factor(covariance: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(covariance)
    return vectors * np.sqrt(np.clip(values, 0, None))


def gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) in float64."""
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    cross = _trace_sqrt_product(_covariance_factor(cov_a), _covariance_factor(cov_b))
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)


def _sample_factor(features: np.ndarray) -> np.ndarray:
    """F with F F^T = the sample covariance (ddof 1), the smaller of the two exact choices."""
    n, d = features.shape
    if n <= d:
        return (features - features.mean(0)).T / np.sqrt(n - 1)
    return _covariance_factor(np.cov(features, rowvar=False))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets, in float64 (FID on
    ``inception_features``). Biased at small N: below 2,048 images the covariance is rank-deficient,
    so compare values only at equal N.

    :param np.ndarray features_a: (N, d) features of one set, N >= 2.
    :param np.ndarray features_b: (M, d) features of the other, M >= 2.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if min(len(a), len(b)) < 2:
        raise MetricUnavailable(f"FID needs at least 2 images per set, got {len(a)} and {len(b)}")
    fa, fb = _sample_factor(a), _sample_factor(b)
    spread = np.sum(fa * fa) + np.sum(fb * fb)  # Tr S_a + Tr S_b
    return float(np.sum((a.mean(0) - b.mean(0)) ** 2) + spread - 2 * _trace_sqrt_product(fa, fb))


def polynomial_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 (diagonal terms excluded)."""
    m, n, d = len(x), len(y), x.shape[1]
    kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    within_x = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    within_y = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(within_x + within_y - 2 * kxy.mean())


def kernel_inception_distance(features_a: np.ndarray, features_b: np.ndarray, subsets: int = 100,
                              subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel inception distance: (mean, std) of the unbiased MMD^2 with the cubic polynomial
    kernel (a.b / d + 1)^3 over ``subsets`` random subsets of min(subset_size, N) images per set;
    when the subsets would be the whole sets, one evaluation on the whole sets (std 0). Unbiased at
    any N, so it can be negative when the sets come from one distribution.

    :param np.ndarray features_a: (N, d) features of one set, N >= 2.
    :param np.ndarray features_b: (M, d) features of the other, M >= 2.
    :param int subsets: number of random subsets, >= 1. Default 100.
    :param int subset_size: images per subset, >= 2 (capped at the smaller set). Default 1000.
    :param int seed: seed of the subsets' draws (numpy). Default 0.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise MetricUnavailable(f"KID needs at least 2 images per set, got {len(a)} and {len(b)}")
    if size == len(a) == len(b):
        return polynomial_mmd2_unbiased(a, b), 0.0
    rng = np.random.default_rng(seed)
    values = [polynomial_mmd2_unbiased(a[rng.choice(len(a), size, replace=False)],
                                       b[rng.choice(len(b), size, replace=False)]) for _ in range(subsets)]
    return float(np.mean(values)), float(np.std(values))
