"""A Gaussian-mixture prior with a closed-form denoiser at every sigma, and its exact posterior
for a linear task with Gaussian noise. For tests, exactness tables and small demos."""

from __future__ import annotations

import math
from typing import Sequence

import torch

from .base import Prior, sigma_per_image


class GaussianMixture(Prior):
    """p(x0) = sum_k w_k N(mu_k, Sigma_k) over images of shape ``shape`` (flattened, dimension d).

    Covariances are kept as eigendecompositions (U_k, lambda_k) so that every sigma costs one
    projection; all arithmetic runs in float64. Its denoiser and its posterior under a linear
    operator are exact, which is what the samplers are checked against.

    :param weights: mixture weights w_k, shape (K,), positive; normalised to sum 1.
    :param means: component means mu_k, shape (K, d), d the product of ``shape``.
    :param covariances: component covariances Sigma_k, shape (K, d, d), symmetric positive definite.
    :param shape: the image shape (C, H, W) the flattened vectors stand for.
    """

    def __init__(self, weights, means, covariances, shape: Sequence[int]):
        super().__init__()
        weights = torch.as_tensor(weights, dtype=torch.float64)
        means = torch.as_tensor(means, dtype=torch.float64)
        covariances = torch.as_tensor(covariances, dtype=torch.float64)
        d = int(math.prod(shape))
        if means.shape != (weights.numel(), d) or covariances.shape != (weights.numel(), d, d):
            raise ValueError(
                f"GaussianMixture: with {weights.numel()} components and shape {tuple(shape)} expected "
                f"means {(weights.numel(), d)} and covariances {(weights.numel(), d, d)}, got "
                f"{tuple(means.shape)} and {tuple(covariances.shape)}"
            )
        if (weights < 0).any() or not torch.isclose(weights.sum(), torch.tensor(1.0, dtype=torch.float64)):
            raise ValueError("GaussianMixture: weights must be non-negative and sum to 1")
        eigenvalues, eigenvectors = torch.linalg.eigh(covariances)
        self.shape = tuple(int(s) for s in shape)
        self.register_buffer("weights", weights)
        self.register_buffer("means", means)
        self.register_buffer("covariances", covariances)
        self.register_buffer("eigenvalues", eigenvalues.clamp_min(0))
        self.register_buffer("eigenvectors", eigenvectors)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def denoise_batch(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        s2 = sigma_per_image(sigma, x).reshape(batch, 1, 1).double() ** 2  # (B, 1, 1)
        flat = x.reshape(batch, -1).double()
        centred = flat[:, None, :] - self.means[None]  # (B, K, d)
        z = torch.einsum("bkd,kde->bke", centred, self.eigenvectors)  # coordinates in eigenbases
        variance = self.eigenvalues[None] + s2  # (B, K, d)
        log_lik = -0.5 * ((z**2) / variance + torch.log(variance)).sum(-1)
        responsibilities = torch.softmax(log_lik + torch.log(self.weights)[None], dim=1)  # (B, K)
        shrunk = z * (self.eigenvalues[None] / variance)
        component_means = self.means[None] + torch.einsum("bke,kde->bkd", shrunk, self.eigenvectors)
        x0 = (responsibilities[..., None] * component_means).sum(1)
        return x0.to(x.dtype).reshape(x.shape)

    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        components = torch.multinomial(self.weights, count, replacement=True, generator=generator)
        noise = torch.randn(count, self.dim, dtype=torch.float64, generator=generator)
        roots = self.eigenvectors * self.eigenvalues.sqrt()[:, None, :]
        draws = self.means[components] + torch.einsum("nde,ne->nd", roots[components], noise)
        return draws.float().reshape(count, *self.shape)

    def mean(self) -> torch.Tensor:
        return (self.weights[:, None] * self.means).sum(0)

    def covariance(self) -> torch.Tensor:
        mean = self.mean()
        centred = self.means - mean
        second = self.covariances + centred[:, :, None] * centred[:, None, :]
        return (self.weights[:, None, None] * second).sum(0)

    def posterior(self, matrix: torch.Tensor, y: torch.Tensor, noise_sigma: float) -> "GaussianMixture":
        """p(x0 | y) for y = matrix @ x0 + noise_sigma * n: again a Gaussian mixture."""
        matrix = matrix.double()
        y = y.reshape(-1).double()
        weights, means, covariances = [], [], []
        for k in range(self.weights.numel()):
            mu, cov = self.means[k], self.covariances[k]
            gain_cov = cov @ matrix.T
            innovation = matrix @ gain_cov + noise_sigma**2 * torch.eye(matrix.shape[0], dtype=torch.float64)
            gain = torch.linalg.solve(innovation, gain_cov.T).T
            residual = y - matrix @ mu
            means.append(mu + gain @ residual)
            covariances.append(cov - gain @ matrix @ cov)
            log_evidence = torch.distributions.MultivariateNormal(
                matrix @ mu, covariance_matrix=innovation
            ).log_prob(y)
            weights.append(torch.log(self.weights[k]) + log_evidence)
        weights = torch.softmax(torch.stack(weights), 0)
        covariances = torch.stack(covariances)
        covariances = 0.5 * (covariances + covariances.transpose(1, 2))
        return GaussianMixture(weights, torch.stack(means), covariances, self.shape)


def operator_matrix(operator, shape: Sequence[int]) -> torch.Tensor:
    """The dense matrix of a linear operator acting on one image of ``shape`` (small d only)."""
    d = int(math.prod(shape))
    basis = torch.eye(d).reshape(d, *shape)
    with torch.no_grad():
        columns = torch.stack([operator(basis[i : i + 1]).reshape(-1) for i in range(d)], dim=1)
    return columns


def smooth_mixture(side: int = 8) -> GaussianMixture:
    """A two-component mixture on 1 x side x side images with spatially correlated covariances
    (exponential kernel, length 3 px): the small known prior of the tests and the exactness table."""
    d = side * side
    yy, xx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    pos = torch.stack([yy.flatten(), xx.flatten()], 1).double()
    cov = 0.09 * torch.exp(-torch.cdist(pos, pos) / 3.0) + 1e-4 * torch.eye(d, dtype=torch.float64)
    means = torch.stack([torch.full((d,), 0.3), torch.full((d,), -0.3)]).double()
    means[1] += 0.2 * torch.sin(pos[:, 1])
    return GaussianMixture([0.6, 0.4], means, torch.stack([cov, 0.5 * cov]), (1, side, side))
