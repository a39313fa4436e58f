"""Priors behind one interface: ``denoise(x, sigma)`` (and ``ddpm_x0`` for DPS)."""

from .adm import SIZE_MULTIPLE as ADM_SIZE_MULTIPLE, ADMPrior, build_unet
from .base import Prior
from .gmm import GaussianMixture, operator_matrix, smooth_mixture
from .unet import EDMUNetPrior, SmallUNet

__all__ = ["Prior", "ADMPrior", "EDMUNetPrior", "GaussianMixture", "build_unet", "check_image_shape", "make_prior",
           "with_network_batch",
           "operator_matrix", "smooth_mixture"]


def check_image_shape(spec: dict, channels: int, image_size: int) -> None:
    """Raise ValueError if the prior of ``spec`` cannot restore images of ``channels`` x
    ``image_size`` x ``image_size``; reads no weight file."""
    kind = spec.get("type")
    if kind == "gmm_smooth":
        side = int(spec.get("side", 8))
        if (channels, image_size) != (1, side):
            raise ValueError(f"the gmm_smooth prior models 1 x {side} x {side} images (its side), "
                             f"not {channels} x {image_size} x {image_size}")
        return
    multiple = SmallUNet.size_multiple() if kind == "edm_unet" else ADM_SIZE_MULTIPLE
    if channels != 3 or image_size % multiple:
        raise ValueError(f"the {kind} prior restores RGB images whose side is a multiple of {multiple}, "
                         f"not {channels} x {image_size} x {image_size}")


def make_prior(spec: dict) -> Prior:
    """A prior from a config mapping: ``{"type": "gmm_smooth", "side": 16}``,
    ``{"type": "edm_unet"}`` (the shipped demo prior; or ``checkpoint``/``sha256`` of a retrained one)
    or ``{"type": "adm", "checkpoint": PATH, "architecture": "ffhq" | "imagenet", "sha256": HEX}``;
    any of them with ``network_batch`` (images per network call, ``Prior.network_batch``)."""
    kind = spec.get("type")
    if kind == "gmm_smooth":
        prior = smooth_mixture(int(spec.get("side", 8)))
    elif kind == "edm_unet":
        prior = EDMUNetPrior(spec.get("checkpoint"), spec.get("sha256"))
    elif kind == "adm":
        prior = ADMPrior(spec.get("checkpoint"), spec.get("architecture", "ffhq"), spec.get("sha256"))
    else:
        raise ValueError(f"prior type must be 'gmm_smooth', 'edm_unet' or 'adm', got {kind!r}")
    return with_network_batch(prior, spec)


def with_network_batch(prior: Prior, spec: dict) -> Prior:
    """``prior`` with the ``network_batch`` of ``spec``, when it sets one."""
    if spec.get("network_batch") is not None:
        if int(spec["network_batch"]) < 1:
            raise ValueError(f"prior network_batch must be >= 1, got {spec['network_batch']}")
        prior.network_batch = int(spec["network_batch"])
    return prior
