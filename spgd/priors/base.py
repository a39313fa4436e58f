"""The prior interface: an EDM denoiser D(x, sigma) ~= E[x0 | x0 + sigma n = x].

DPS works in DDPM time; ``ddpm_x0`` gives it the x0 estimate at a DDPM timestep (and the learned
variance where a model has one, in which case the model is called with the timestep itself).
"""

from __future__ import annotations

import torch


class Prior(torch.nn.Module):
    """Subclasses implement ``denoise_batch``; parameters are frozen (no weight gradients).

    ``network_batch``: images per network call. CPU and GPU libraries choose their kernels by
    tensor shape (MKL multiplies fewer than 4 rows with another kernel; oneDNN and cuDNN convolve
    one image unlike four) and the kernels round differently, so a network evaluated at whatever
    batch it is given restores an image differently in another batch. Evaluated in blocks of one
    fixed shape (the last one padded with zeros), an image's result never depends on the images
    around it, on any device. ``None``: the whole batch at once (the Gaussian mixture, whose
    float64 arithmetic is rounded to float32 at the end).
    """

    network_batch: int | None = None

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
        """D(x, sigma) for a batch ``x``; ``sigma`` a number or one per image."""
        return in_blocks(self.denoise_batch, self.network_batch, x, sigma_per_image(sigma, x))

    def denoise_batch(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """D(x, sigma) for at most ``network_batch`` images, ``sigma`` of shape (B, 1, 1, 1)."""
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


def in_blocks(fn, block: int | None, x: torch.Tensor, *per_image: torch.Tensor):
    """``fn(x, *per_image)`` evaluated on blocks of exactly ``block`` images (the last one padded
    with zeros, which have no gradient path), results concatenated; ``fn`` returns a tensor or a
    tuple of tensors (or None) with the batch first. ``block=None``: one call on everything."""
    if block is None:
        return fn(x, *per_image)
    parts = []
    for start in range(0, x.shape[0], block):
        inputs = [t[start:start + block] for t in (x, *per_image)]
        real = inputs[0].shape[0]
        if real < block:  # images padded with zeros, per-image values (sigma) with the last one's
            pad = block - real
            fill = [t.new_zeros(pad, *t.shape[1:]) if i == 0 else t[-1:].detach().expand(pad, *t.shape[1:])
                    for i, t in enumerate(inputs)]
            inputs = [torch.cat([t, extra]) for t, extra in zip(inputs, fill)]
        out = fn(*inputs)
        parts.append(tuple(o[:real] if o is not None else None for o in out) if isinstance(out, tuple) else out[:real])
    if isinstance(parts[0], tuple):
        return tuple(torch.cat(column) if column[0] is not None else None for column in zip(*parts))
    return torch.cat(parts)
