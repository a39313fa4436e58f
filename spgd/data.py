"""Datasets: image folders and a synthetic set drawn from a Gaussian-mixture prior.

A dataset is a float32 tensor (N, C, H, W) in [-1, 1] plus a manifest: one row per image with
its id, source and sha256 (of the source file, or of the image's bytes for synthetic images).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .checkpoints import sha256_of
from .priors import GaussianMixture

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def load_image(path: str | Path, size: int) -> torch.Tensor:
    """RGB, shorter side resized to ``size`` (bicubic), centre crop ``size``, mapped to [-1, 1]."""
    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = size / min(image.size)
        resized = image.resize((max(size, round(image.width * scale)), max(size, round(image.height * scale))),
                               Image.BICUBIC)
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    crop = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.float32) / 255
    return torch.from_numpy(crop).permute(2, 0, 1) * 2 - 1


def list_images(folder: str | Path) -> list[Path]:
    """The image files of ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder {folder} does not exist")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def image_folder(folder: str | Path, size: int, start: int = 0, count: int | None = None):
    """Images of ``folder`` sorted by name, ``count`` of them from index ``start``."""
    files = list_images(folder)
    chosen = files[start : None if count is None else start + count]
    if not chosen or (count is not None and len(chosen) < count):
        raise ValueError(f"dataset folder {folder}: asked for {count} images from index {start}, "
                         f"found {len(files)} images in all")
    images = torch.stack([load_image(p, size) for p in chosen])
    manifest = [dict(id=p.stem, source=str(p), sha256=sha256_of(p)) for p in chosen]
    return images, manifest


def image_sha256(image: torch.Tensor) -> str:
    """sha256 of an image tensor's bytes (the manifest's id of an image that has no source file)."""
    return hashlib.sha256(image.numpy().tobytes()).hexdigest()


def mixture_samples(prior: GaussianMixture, count: int, seed: int):
    """``count`` images drawn from ``prior`` (clipped to [-1, 1]); ids synthetic_000, ..."""
    images = prior.sample(count, torch.Generator().manual_seed(int(seed))).clamp(-1, 1)
    manifest = [
        dict(id=f"synthetic_{i:03d}", source=f"gaussian mixture draw {i} (seed {seed})",
             sha256=image_sha256(image))
        for i, image in enumerate(images)
    ]
    return images, manifest


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [-1, 1] (clipped) -> H x W x C uint8."""
    return ((image.detach().double().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()


def save_png(image: torch.Tensor, path: str | Path) -> None:
    """Save a (C, H, W) image in [-1, 1] (clipped) as an 8-bit PNG, grey for one channel."""
    array = to_uint8(image)
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path, format="PNG")


def export_pngs(images: torch.Tensor, ids: list[str], folder: str | Path) -> list[Path]:
    """Save each finite image as ``folder/<id>.png``; images with NaN/inf (diverged) are skipped."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for image, image_id in zip(images, ids):
        if torch.isfinite(image).all():
            save_png(image, folder / f"{image_id}.png")
            written.append(folder / f"{image_id}.png")
    return written
