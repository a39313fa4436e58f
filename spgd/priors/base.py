"""The prior interface: an EDM denoiser D(x, sigma) ~= E[x0 | x0 + sigma n = x].

DPS works in DDPM time; ``ddpm_x0`` gives it the x0 estimate at a DDPM timestep (and the learned
variance where a model has one, in which case the model is called with the timestep itself).
"""

from __future__ import annotations

import torch


class Prior(torch.nn.Module):
    """Subclasses implement ``denoise``; parameters are frozen (no weight gradients)."""

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        return self.denoise(x, sigma)

    def ddpm_x0(
        self, x_t: torch.Tensor, timestep: int, alpha_bar: float
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x0 estimate at DDPM step ``timestep`` (of 1000) with cumulative alpha ``alpha_bar``;
        second item: learned-variance interpolation values in [-1, 1], or None. The default asks
        the denoiser at the equivalent noise level, which is exact for any denoiser."""
        scale = alpha_bar**0.5
        return self.denoise(x_t / scale, ((1 - alpha_bar) / alpha_bar) ** 0.5), None

    def freeze(self) -> "Prior":
        self.requires_grad_(False)
        return self.eval()


def sigma_per_image(sigma: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """Broadcast a scalar or (B,) sigma to shape (B, 1, 1, 1) in x's dtype and device."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    return sigma.reshape(-1, *([1] * (x.dim() - 1))).expand(x.shape[0], *([1] * (x.dim() - 1)))
