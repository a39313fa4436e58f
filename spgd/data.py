"""Datasets: image folders and a synthetic set drawn from a Gaussian-mixture prior.

A dataset is a float32 tensor (N, C, H, W) in [-1, 1] plus a manifest: one row per image with
its id, source and sha256 (of the source file, or of the image's bytes for synthetic images).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .checkpoints import sha256_of
from .priors import GaussianMixture

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


# 16-bit greyscale as Pillow opens it (a 16-bit RGB PNG opens as 8-bit RGB)
SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I"}


def load_image(path: str | Path, size: int, upscale: bool = False) -> torch.Tensor:
    """RGB in [-1, 1]: shorter side resized to ``size`` (bicubic), centre crop ``size``.

    Greyscale is repeated over the channels; 16-bit greyscale is read at its depth (0..65535);
    palette images get their palette colours and an alpha channel is dropped (the colour under
    it is kept, as upstream's ``convert("RGB")`` does). An EXIF orientation tag is not applied:
    upstream's loading does not apply it either, so the pixels are the ones stored, as the published
    numbers saw them (``exif_rotated`` names the files that carry one). An image whose shorter side
    is below ``size`` is refused unless ``upscale``; an unreadable file is named in the error."""
    try:
        with Image.open(path) as image:
            image.load()
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"cannot read image {path}: {error}") from None
    if min(image.size) < size and not upscale:
        raise ValueError(f"image {path} is {image.width} x {image.height} px, smaller than image_size {size}; "
                         "set the dataset's 'upscale: true' to upscale such images")
    scale = size / min(image.size)
    shape = (max(size, round(image.width * scale)), max(size, round(image.height * scale)))
    if image.mode in SIXTEEN_BIT_MODES:
        grey = np.asarray(image, dtype=np.float64)
        if grey.max() > 65535 or grey.min() < 0:
            raise ValueError(f"image {path}: mode {image.mode} with values outside 0..65535 is not supported")
        channel = Image.fromarray((grey / 65535).astype(np.float32), mode="F").resize(shape, Image.BICUBIC)
        channels = [np.asarray(channel, dtype=np.float32)] * 3
        crop = np.stack(channels, axis=2)
    else:
        if image.mode in ("P", "PA", "LA", "La", "RGBa"):
            image = image.convert("RGBA")
        crop = np.asarray(image.convert("RGB").resize(shape, Image.BICUBIC), dtype=np.float32) / 255
    left, top = (shape[0] - size) // 2, (shape[1] - size) // 2
    crop = np.clip(crop[top:top + size, left:left + size], 0, 1)
    return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1) * 2 - 1


EXIF_ORIENTATION = 0x0112


def exif_rotated(paths: list[Path]) -> list[str]:
    """The names of those ``paths`` whose EXIF orientation asks for a rotation or flip (any value
    but 1), which ``load_image`` leaves unapplied."""
    rotated = []
    for path in paths:
        with Image.open(path) as image:
            if image.getexif().get(EXIF_ORIENTATION, 1) != 1:
                rotated.append(Path(path).name)
    return rotated


def list_images(folder: str | Path) -> list[Path]:
    """The image files of ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder {folder} does not exist")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def image_folder(folder: str | Path, size: int, start: int = 0, count: int | None = None, upscale: bool = False):
    """Images of ``folder`` sorted by name, ``count`` of them from index ``start`` (``load_image``)."""
    files = list_images(folder)
    chosen = files[start : None if count is None else start + count]
    if not chosen or (count is not None and len(chosen) < count):
        raise ValueError(f"dataset folder {folder}: asked for {count} images from index {start}, "
                         f"found {len(files)} images in all")
    images = torch.stack([load_image(p, size, upscale) for p in chosen])
    manifest = [dict(id=p.stem, source=str(p), sha256=sha256_of(p)) for p in chosen]
    rotated = exif_rotated(chosen)
    if rotated:
        warnings.warn(f"dataset folder {folder}: {len(rotated)} images carry an EXIF orientation, not applied (as "
                      f"upstream): {', '.join(rotated[:10])}{' ...' if len(rotated) > 10 else ''}", stacklevel=2)
    return images, manifest


def image_sha256(image: torch.Tensor) -> str:
    """sha256 of an image tensor's bytes (the manifest's id of an image that has no source file)."""
    return hashlib.sha256(image.numpy().tobytes()).hexdigest()


def mixture_samples(prior: GaussianMixture, count: int, seed: int, start: int = 0):
    """Draws ``start`` to ``start + count - 1`` of ``start + count`` images drawn from ``prior``
    (clipped to [-1, 1]); ids synthetic_START, ..."""
    images = prior.sample(start + count, torch.Generator().manual_seed(int(seed))).clamp(-1, 1)[start:]
    manifest = [
        dict(id=f"synthetic_{i:03d}", source=f"gaussian mixture draw {i} (seed {seed})",
             sha256=image_sha256(image))
        for i, image in enumerate(images, start)
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
