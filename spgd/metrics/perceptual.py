"""LPIPS through the ``lpips`` package: the standard AlexNet and VGG variants, and the variant
upstream SPGD/DAPS report (piq's ``LPIPS(replace_pooling=True)``: VGG16 with every max-pooling
replaced by 2x2 average pooling, the same v0.1 heads, the same input normalisation)."""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import torch

from .pixel import to_unit_range
from .weights import MetricUnavailable, require, using_hub_dir

# metric -> (lpips network, average pooling, torch hub weight file)
LPIPS_VARIANTS = {
    "lpips_alex": ("alex", False, "alexnet"),
    "lpips_vgg": ("vgg", False, "vgg16"),
    "lpips_vgg_avgpool": ("vgg", True, "vgg16"),
}
# Smallest image side each network accepts (AlexNet's stride-4 stem and two 3x3/2 max-pools).
MIN_SIDE = {"alex": 31, "vgg": 16}


def _average_pooling(module: torch.nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, torch.nn.MaxPool2d):
            setattr(module, name, torch.nn.AvgPool2d(kernel_size=2, stride=2))
        else:
            _average_pooling(child)


@functools.cache
def lpips_model(metric: str, hub_dir: str, device: str = "cpu") -> torch.nn.Module:
    """The frozen LPIPS network of ``metric``, its backbone loaded from ``hub_dir``."""
    net, average, key = LPIPS_VARIANTS[metric]
    require(hub_dir, key)
    from .._torchvision_compat import import_torchvision

    import_torchvision()
    import lpips

    with using_hub_dir(hub_dir), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torchvision's 'pretrained' deprecation notice
        model = lpips.LPIPS(net=net, version="0.1", verbose=False)
    if average:
        _average_pooling(model.net)
    return model.eval().requires_grad_(False).to(device)


def lpips_distance(metric: str, restored: torch.Tensor, reference: torch.Tensor, hub_dir: str | Path,
                   device: str = "cpu") -> torch.Tensor:
    """(B,) LPIPS per image (v0.1 linear heads), images clipped like every metric; grey images are
    repeated to RGB.

    :param str metric: ``"lpips_alex"`` (AlexNet, the field's default, images >= 31 px),
        ``"lpips_vgg"`` (VGG16) or ``"lpips_vgg_avgpool"`` (VGG16 with average pooling: what upstream
        SPGD and DAPS report as LPIPS).
    :param torch.Tensor restored: images (B, C, H, W) in [-1, 1].
    :param torch.Tensor reference: the ground truths, same shape.
    :param hub_dir: torch hub folder holding the networks under their official names
        (``spgd.metrics.weights.provision`` fills it); a missing network raises ``MetricUnavailable``.
    :param str device: torch device of the network. Default ``"cpu"``.
    """
    net = LPIPS_VARIANTS[metric][0]
    side = min(restored.shape[-2:])
    if side < MIN_SIDE[net]:
        raise MetricUnavailable(f"{metric}: images of {side} px are smaller than the {MIN_SIDE[net]} px "
                                f"the {net} network needs")
    model = lpips_model(metric, str(hub_dir), str(device))
    to_input = lambda x: (to_unit_range(x).float() * 2 - 1).expand(-1, 3, -1, -1).to(device)
    with torch.no_grad():
        return model(to_input(restored), to_input(reference)).flatten().double().cpu()
