import math

import pytest
import torch

from spgd.priors import GaussianMixture


def smooth_gmm(side: int = 8) -> GaussianMixture:
    """Two-component mixture on 1 x side x side images with spatially correlated covariances."""
    d = side * side
    yy, xx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    pos = torch.stack([yy.flatten(), xx.flatten()], 1).double()
    cov = 0.09 * torch.exp(-torch.cdist(pos, pos) / 3.0) + 1e-4 * torch.eye(d, dtype=torch.float64)
    means = torch.stack([torch.full((d,), 0.3), torch.full((d,), -0.3)]).double()
    means[1] += 0.2 * torch.sin(pos[:, 1])
    return GaussianMixture([0.6, 0.4], means, torch.stack([cov, 0.5 * cov]), (1, side, side))


@pytest.fixture(scope="session")
def gmm():
    return smooth_gmm()


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def nan_equal(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-6) -> bool:
    return bool(torch.allclose(a, b, atol=atol, equal_nan=True))


__all__ = ["smooth_gmm", "relative_error", "nan_equal", "math"]
