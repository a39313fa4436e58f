"""The prior interface: an EDM denoiser D(x, sigma) ~= E[x0 | x0 + sigma n = x].

DPS works in DDPM time; ``ddpm_eps`` gives it the epsilon prediction (and the learned variance
where a model has one). The default derives epsilon from D, which is exact for any denoiser.
"""

from __future__ import annotations

import torch


class Prior(torch.nn.Module):
    """Subclasses implement ``denoise``; parameters are frozen (no weight gradients)."""

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        return self.denoise(x, sigma)

    def ddpm_eps(
        self, x_t: torch.Tensor, timestep: int, alpha_bar: float
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Epsilon prediction at DDPM step ``timestep`` (of 1000) with cumulative alpha ``alpha_bar``;
        second item: learned-variance interpolation values in [-1, 1], or None."""
        scale = alpha_bar**0.5
        sigma = ((1 - alpha_bar) / alpha_bar) ** 0.5
        x0 = self.denoise(x_t / scale, sigma)
        return (x_t - scale * x0) / (1 - alpha_bar) ** 0.5, None

    def freeze(self) -> "Prior":
        self.requires_grad_(False)
        return self.eval()


def sigma_per_image(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or (B,) sigma to shape (B, 1, 1, 1) in x's dtype and device."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    return sigma.reshape(-1, *([1] * (x.dim() - 1))).expand(x.shape[0], *([1] * (x.dim() - 1)))
