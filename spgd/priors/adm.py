"""Pixel-space DDPM checkpoints (guided-diffusion UNet) as an EDM denoiser (docs/method.md, Priors).

``ffhq``: DPS's ``ffhq_10m.pt``; ``imagenet``: OpenAI's ``256x256_diffusion_uncond.pt``. deepinv's
``DiffUNet`` has exactly their architecture. The epsilon network becomes a denoiser through VP
preconditioning: D(x, sigma) = x - sigma * eps(x / sqrt(1 + sigma^2), 999 t(sigma)).
"""

from __future__ import annotations

import contextlib

import torch

from .._torchvision_compat import import_torchvision
from ..checkpoints import load_weights
from ..schedule import vp_time
from .base import Prior, in_blocks

ARCHITECTURES = {
    "ffhq": dict(large_model=False, file="ffhq_10m.pt", params=93.6e6,
                 source="DPS (DPS2022/diffusion-posterior-sampling) release, file ffhq_10m.pt"),
    "imagenet": dict(large_model=True, file="256x256_diffusion_uncond.pt", params=552.8e6,
                     source="OpenAI guided-diffusion release, file 256x256_diffusion_uncond.pt"),
}
# Buffers deepinv's DiffUNet adds for its own denoising mode; raw checkpoints do not hold them.
DEEPINV_BUFFERS = ("sqrt_1m_alphas_cumprod", "sqrt_alphas_cumprod")
# image sides must be multiples of this: the guided-diffusion UNets halve the image five times
SIZE_MULTIPLE = 32


def build_unet(architecture: str, device: str | torch.device | None = None) -> torch.nn.Module:
    """deepinv's DiffUNet of ``architecture``, randomly initialised; ``device="meta"`` builds only
    its structure (seconds faster for 552.8 M parameters) for weights loaded with assign=True."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown ADM architecture {architecture!r}; expected one of {sorted(ARCHITECTURES)}")
    import_torchvision()  # deepinv imports torchvision at import time
    from deepinv.models import DiffUNet

    with torch.device(device) if device is not None else contextlib.nullcontext():
        return DiffUNet(large_model=ARCHITECTURES[architecture]["large_model"], pretrained=None)


class ADMPrior(Prior):
    """A guided-diffusion epsilon model as an EDM denoiser (docs/method.md, Priors), loaded strictly
    from ``checkpoint``; never random weights.

    :param str checkpoint: path of the raw checkpoint (``ffhq_10m.pt`` or
        ``256x256_diffusion_uncond.pt``); a missing, truncated, wrong-hash or wrong-shaped file is an
        error naming it.
    :param str architecture: ``"ffhq"`` (93.6 M parameters) or ``"imagenet"`` (552.8 M); must match
        the checkpoint. Default ``"ffhq"``.
    :param str sha256: the file's expected sha256, checked before loading. Default None.
    """

    network_name = "_eps_and_variance"  # what ``compile: true`` compiles (spgd.priors.speed)
    network_batch = 4

    def __init__(self, checkpoint: str, architecture: str = "ffhq", sha256: str | None = None):
        super().__init__()
        self.architecture = architecture
        self.unet = build_unet(architecture, device="meta")  # every weight comes from the file
        spec = ARCHITECTURES[architecture]
        load_weights(
            self.unet, checkpoint, what=f"adm prior ({architecture})",
            where_to_get=spec["source"], sha256=sha256, ignore_missing=DEEPINV_BUFFERS, assign=True,
        )
        for name, value in zip(DEEPINV_BUFFERS, self.unet.get_alpha_prod()[-2:]):
            self.unet.register_buffer(name, value)  # deepinv's own, computed as its __init__ does
        self.checkpoint = str(checkpoint)
        self.freeze()

    @classmethod
    def untrained(cls, architecture: str = "ffhq", device: str | torch.device | None = None) -> "ADMPrior":
        """The architecture with deepinv's random initialisation: for timing and for checking that
        code runs at full size, never for restoring images (``checkpoint`` says "untrained").
        ``device="meta"``: the structure alone, for counting memory and FLOPs (``spgd.costs``)."""
        prior = cls.__new__(cls)
        Prior.__init__(prior)
        prior.architecture, prior.checkpoint = architecture, "untrained"
        prior.unet = build_unet(architecture, device)
        return prior.freeze()

    def _eps_and_variance(self, x: torch.Tensor, timesteps: torch.Tensor):
        if x.shape[-1] % SIZE_MULTIPLE or x.shape[-2] % SIZE_MULTIPLE:
            raise ValueError(f"adm prior: image sides must be multiples of {SIZE_MULTIPLE}, got {tuple(x.shape[-2:])}")
        out = self.unet.forward_diffusion(x, timesteps)
        channels = x.shape[1]
        return out[:, :channels], out[:, channels:]

    def denoise_batch(self, x: torch.Tensor, sigma_b: torch.Tensor) -> torch.Tensor:
        c_in = 1 / torch.sqrt(1 + sigma_b**2)
        c_noise = 999 * vp_time(sigma_b.reshape(-1)).to(x.dtype)
        eps, _ = self._eps_and_variance(c_in * x, c_noise)
        return x - sigma_b * eps

    def ddpm_x0(self, x_t: torch.Tensor, timestep: int, alpha_bar: float):
        return in_blocks(lambda x: self._ddpm_x0_batch(x, timestep, alpha_bar), self.network_batch, x_t)

    def _ddpm_x0_batch(self, x_t: torch.Tensor, timestep: int, alpha_bar: float):
        timesteps = torch.full((x_t.shape[0],), float(timestep), device=x_t.device)
        eps, variance_values = self._eps_and_variance(x_t, timesteps)
        return (x_t - (1 - alpha_bar) ** 0.5 * eps) / alpha_bar**0.5, variance_values
