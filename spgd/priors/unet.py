"""A small EDM-preconditioned UNet denoiser: the learned prior of the embedded demo.

Karras et al. 2022 (EDM) preconditioning, sigma_data = 0.5 for images in [-1, 1]:
D(x, sigma) = c_skip x + c_out F(c_in x, ln(sigma) / 4). F is a compact, fully convolutional UNet
(residual blocks with group norm, the noise level injected as a per-channel scale and shift), so
one set of weights works at any image side divisible by 2^(levels - 1).
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_weights
from .base import Prior, sigma_per_image

SIGMA_DATA = 0.5
# The shipped demo network (weights/demo_edm_unet.pt, model card beside it); changing the
# architecture invalidates the file, whose sha256 is checked at every load.
DEMO_ARCHITECTURE = dict(channels=(24, 48, 96), blocks_per_level=1, embedding=64)
DEMO_CHECKPOINT = Path(__file__).parent / "weights" / "demo_edm_unet.pt"
DEMO_SHA256 = "b4db1cf7f63d41bcb21dc47ff4c26d16d103dff8a70f45854d99e339e4d29296"


class NoiseEmbedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, c_noise: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        frequencies = torch.exp(-math.log(10_000) * torch.arange(half, device=c_noise.device) / half)
        angles = c_noise[:, None].float() * 1000 * frequencies[None]  # c_noise spans about [-2, 2]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], 1))


class ResBlock(nn.Module):
    def __init__(self, channels_in: int, channels_out: int, embedding: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(min(8, channels_in // 4), channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.film = nn.Linear(embedding, 2 * channels_out)
        self.norm2 = nn.GroupNorm(min(8, channels_out // 4), channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.skip = nn.Conv2d(channels_in, channels_out, 1) if channels_in != channels_out else nn.Identity()
        nn.init.zeros_(self.conv2.weight)  # each block starts as the identity
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, 1)
        h = self.conv2(F.silu(self.norm2(h) * (1 + scale) + shift))
        return self.skip(x) + h


class SmallUNet(nn.Module):
    """F(x, c_noise): ``levels`` resolutions with ``channels[i]`` channels, skip connections."""

    def __init__(self, image_channels: int = 3, channels=(48, 96, 144), blocks_per_level: int = 2,
                 embedding: int = 128):
        super().__init__()
        self.levels = len(channels)
        self.embed = NoiseEmbedding(embedding)
        self.stem = nn.Conv2d(image_channels, channels[0], 3, padding=1)
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        skips, current = [], channels[0]
        for width in channels:
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level):
                blocks.append(ResBlock(current, width, embedding))
                current = width
                skips.append(current)
            self.down.append(blocks)
        for width in reversed(channels):
            blocks = nn.ModuleList()
            for _ in range(blocks_per_level):
                blocks.append(ResBlock(current + skips.pop(), width, embedding))
                current = width
            self.up.append(blocks)
        self.head = nn.Sequential(nn.GroupNorm(8, current), nn.SiLU(), nn.Conv2d(current, image_channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)

    @staticmethod
    def size_multiple(channels=DEMO_ARCHITECTURE["channels"]) -> int:
        """Image sides must be multiples of this (one halving per level after the first)."""
        return 2 ** (len(channels) - 1)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        factor = self.size_multiple([None] * self.levels)
        if x.shape[-1] % factor or x.shape[-2] % factor:
            raise ValueError(f"SmallUNet: image sides must be multiples of {factor}, got {tuple(x.shape[-2:])}")
        emb = self.embed(c_noise)
        h, skips = self.stem(x), []
        for level, blocks in enumerate(self.down):
            if level:
                h = F.avg_pool2d(h, 2)
            for block in blocks:
                h = block(h, emb)
                skips.append(h)
        for index, blocks in enumerate(self.up):
            if index:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], 1), emb)
        return self.head(h)


def edm_scalings(sigma: torch.Tensor):
    """c_skip, c_out, c_in, c_noise of EDM for sigma of shape (B, 1, 1, 1)."""
    total = sigma**2 + SIGMA_DATA**2
    return SIGMA_DATA**2 / total, sigma * SIGMA_DATA / total.sqrt(), 1 / total.sqrt(), sigma.log().flatten() / 4


class EDMDenoiser(nn.Module):
    """D(x, sigma) = c_skip x + c_out F(c_in x, c_noise): trainable (the Prior wraps it frozen)."""

    def __init__(self, **architecture):
        super().__init__()
        self.net = SmallUNet(**architecture)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        sigma = sigma_per_image(sigma, x)
        c_skip, c_out, c_in, c_noise = edm_scalings(sigma)
        return c_skip * x + c_out * self.net(c_in * x, c_noise)


class EDMUNetPrior(Prior):
    """The demo prior: a small EDM-preconditioned UNet (607,267 parameters, trained on 32 px crops
    of photos bundled with scikit-image, scikit-learn and matplotlib; model card in
    ``spgd/priors/weights/MODEL_CARD.md``). Not the paper's model.

    :param checkpoint: path of a state dict of ``EDMDenoiser``, loaded strictly (no pickled code,
        every key and shape checked). Default None: the shipped file.
    :param str sha256: the file's expected sha256, checked before loading. Default None (the shipped
        file's own hash when ``checkpoint`` is None).
    """

    network_name = "model"  # what ``compile: true`` compiles (spgd.priors.speed)
    network_batch = 4  # the shipped demo's batch: its numbers are those of one plain call

    def __init__(self, checkpoint=None, sha256: str | None = None):
        super().__init__()
        if checkpoint is None:
            checkpoint, sha256 = DEMO_CHECKPOINT, sha256 or DEMO_SHA256
        self.model = EDMDenoiser(**DEMO_ARCHITECTURE)
        load_weights(self.model, checkpoint, what="demo prior (EDM UNet)", sha256=sha256,
                     where_to_get="ships as spgd/priors/weights/demo_edm_unet.pt; rebuild with "
                                  "snakemake train_demo_prior")
        self.freeze()

    @classmethod
    def untrained(cls, device: str | torch.device | None = None) -> "EDMUNetPrior":
        """The demo architecture, randomly initialised: never for restoring images;
        ``device="meta"``: the structure alone, for counting memory and FLOPs (``spgd.costs``)."""
        prior = cls.__new__(cls)
        Prior.__init__(prior)
        with torch.device(device) if device is not None else contextlib.nullcontext():
            prior.model = EDMDenoiser(**DEMO_ARCHITECTURE)
        return prior.freeze()

    def denoise_batch(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.model(x, sigma)
