"""Nonlinear deblurring: the BKSE "KernelWizard" blur model applied with a fixed kernel latent.

The network is rebuilt here with the same module tree as BKSE so that its GOPRO_wVAE.pth loads
strictly. Only ``adapt_kernel`` (image + kernel latent -> blurred image) is used by the task.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import nn

from ..checkpoints import load_weights
from .base import Operator

GOPRO_WEIGHTS_HINT = (
    "GOPRO_wVAE.pth from the BKSE project (VinAIResearch/blur-kernel-space-exploring), "
    "as used by DPS/DAPS for nonlinear deblurring"
)


class ResidualBlockNoBN(nn.Module):
    def __init__(self, nf: int):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1)

    def forward(self, x):
        return x + self.conv2(torch.relu(self.conv1(x)))


class ResnetBlock(nn.Module):
    """Reflect-padded conv-ReLU-conv with skip, no normalisation, no bias."""

    def __init__(self, dim: int):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=False), nn.Identity(), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=False), nn.Identity(),
        )

    def forward(self, x):
        return x + self.conv_block(x)


class KernelExtractor(nn.Module):
    """Estimates the kernel latent from (sharp, blurred) features; unused by the forward model but
    part of the checkpoint."""

    def __init__(self, nf: int, kernel_dim: int, use_vae: bool, n_blocks: int = 4):
        super().__init__()
        out = kernel_dim * 2 if use_vae else kernel_dim
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(2 * nf, nf, 7, bias=False), nn.Identity(), nn.ReLU(True)]
        for i in range(5):
            mult = 2**i
            layers += [
                nn.Conv2d(min(nf * mult, out), min(nf * mult * 2, out), 3, 2, 1, bias=False),
                nn.Identity(),
                nn.ReLU(True),
            ]
        layers += [ResnetBlock(out) for _ in range(n_blocks)]
        self.model = nn.Sequential(*layers)


class UnetSkipBlock(nn.Module):
    """U-Net level; the innermost level concatenates the kernel latent to its bottleneck."""

    def __init__(self, outer: int, inner: int, submodule=None, outermost=False, innermost=False):
        super().__init__()
        self.outermost, self.innermost = outermost, innermost
        downconv = nn.Conv2d(outer, inner, 4, 2, 1, bias=False)
        if outermost:
            self.down = nn.Sequential(downconv)
            self.up = nn.Sequential(nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh())
        elif innermost:
            self.down = nn.Sequential(nn.LeakyReLU(0.2, True), downconv)
            self.up = nn.Sequential(
                nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False), nn.Identity()
            )
        else:
            self.down = nn.Sequential(nn.LeakyReLU(0.2, True), downconv, nn.Identity())
            self.up = nn.Sequential(
                nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=False), nn.Identity()
            )
        if submodule is not None:
            self.submodule = submodule

    def forward(self, x, latent):
        if self.innermost:
            return torch.cat([self.up(torch.cat([self.down(x), latent], dim=1)), x], dim=1)
        inner = self.submodule(self.down(x), latent)
        return self.up(inner) if self.outermost else torch.cat([self.up(inner), x], dim=1)


class KernelAdapter(nn.Module):
    def __init__(self, nf: int):
        super().__init__()
        block = UnetSkipBlock(nf * 8, nf * 8, innermost=True)
        block = UnetSkipBlock(nf * 4, nf * 8, block)
        block = UnetSkipBlock(nf * 2, nf * 4, block)
        block = UnetSkipBlock(nf, nf * 2, block)
        self.model = UnetSkipBlock(nf, nf, block, outermost=True)

    def forward(self, x, latent):
        return self.model(x, latent)


class KernelWizard(nn.Module):
    """BKSE's KernelWizard with the options of its generate_blur/default.yml
    (nf 64, 10 front and 20 back residual blocks, kernel_dim 512, VAE)."""

    def __init__(self, nf: int = 64, front_blocks: int = 10, back_blocks: int = 20,
                 kernel_dim: int = 512, use_vae: bool = True, channels: int = 3):
        super().__init__()
        lrelu = nn.LeakyReLU(negative_slope=0.1)
        self.kernel_dim = kernel_dim
        block = functools.partial(ResidualBlockNoBN, nf)
        self.feature_extractor = nn.Sequential(
            nn.Conv2d(channels, nf, 3, 1, 1), lrelu,
            nn.Conv2d(nf, nf, 3, 2, 1), lrelu,
            nn.Conv2d(nf, nf, 3, 2, 1), lrelu,
            *[block() for _ in range(front_blocks)],
        )
        self.kernel_extractor = KernelExtractor(nf, kernel_dim, use_vae)
        self.adapter = KernelAdapter(nf)
        self.recon_trunk = nn.Sequential(
            *[block() for _ in range(back_blocks)],
            nn.Conv2d(nf, nf * 4, 3, 1, 1), nn.PixelShuffle(2), lrelu,
            nn.Conv2d(nf, 64 * 4, 3, 1, 1), nn.PixelShuffle(2), lrelu,
            nn.Conv2d(64, 64, 3, 1, 1), lrelu,
            nn.Conv2d(64, channels, 3, 1, 1),
        )

    def adapt_kernel(self, sharp: torch.Tensor, latent: torch.Tensor) -> torch.Tensor:
        """Blur ``sharp`` (in [0, 1]) with the kernel described by ``latent`` (B, 512, H/128, W/128)."""
        features = self.adapter(self.feature_extractor(sharp), latent)
        return self.recon_trunk(features) + sharp


@functools.lru_cache(maxsize=2)
def load_kernel_wizard(path: str, sha256: str | None = None) -> KernelWizard:
    model = KernelWizard()
    load_weights(model, path, what="nonlinear_blur", where_to_get=GOPRO_WEIGHTS_HINT, sha256=sha256)
    return model.eval().requires_grad_(False)


class NonlinearBlur(Operator):
    """y = clamp(2 * KernelWizard((x+1)/2, z) - 1, -1, 1), z ~ 1.2 N(0, I) of shape
    (512, H/128, W/128) per image (2x2 at 256 px, as upstream); needs H divisible by 128.

    :param str weights: path of BKSE's ``GOPRO_wVAE.pth``; required (a missing file is an error naming
        where to get it, never random weights).
    :param str sha256: the file's expected sha256, checked before loading when given. Default None.
    :param bool load_network: False builds everything but BKSE's network (the workflow's config
        check, which must not read weight files). Default True.

    Common parameters (``Operator``): ``image_size``, ``image_ids``, ``seed``, ``noise_sigma``
    (default 0.05), ``shared``, ``channels``.
    """

    name = "nonlinear_blur"
    default_noise_sigma = 0.05
    latent_scale = 1.2

    kernel_dim = 512  # KernelWizard's, as BKSE's generate_blur/default.yml sets it

    def __init__(self, image_size: int, *args, weights: str | None = None, sha256: str | None = None,
                 load_network: bool = True, **kwargs):
        if image_size % 128:
            raise ValueError(f"nonlinear_blur: the image size must be a multiple of 128, got {image_size}")
        super().__init__(image_size, *args, **kwargs)
        if load_network:
            self.wizard = load_kernel_wizard(str(weights or ""), sha256)

    def draw_parameters(self, rng: np.random.Generator) -> np.ndarray:
        side = self.image_size // 128
        return (self.latent_scale * rng.standard_normal((self.kernel_dim, side, side))).astype(np.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blurred = self.wizard.adapt_kernel((x + 1) / 2, self.params)
        return (2 * blurred - 1).clamp(-1, 1)
