"""Photographs that ship with scikit-image, scikit-learn and matplotlib: the demo prior's training
data and, from a fixed held-out set never used in training, the demo's ground truth.

Everything loads offline. Grey photos are used as RGB (three equal channels).
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from ..data import image_sha256
from ..seeding import view_rng


def _skimage(name):
    def load():
        from skimage import data

        return getattr(data, name)()

    return load, f"scikit-image data.{name}()"


def _motorcycle(side):
    def load():
        from skimage import data

        return data.stereo_motorcycle()[side]

    return load, f"scikit-image data.stereo_motorcycle()[{side}]"


def _sklearn(index, name):
    def load():
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load, f"scikit-learn load_sample_images() {name}"


def _matplotlib(name):
    def load():
        from matplotlib import cbook

        with Image.open(cbook.get_sample_data(name, asfileobj=False)) as image:
            return np.asarray(image.convert("RGB"))

    return load, f"matplotlib sample data {name}"


PHOTOS = {
    # held out: never seen in training; crops of these are the demo's ground truth
    "astronaut": _skimage("astronaut"), "chelsea": _skimage("chelsea"), "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    # training
    "china": _sklearn(0, "china.jpg"), "flower": _sklearn(1, "flower.jpg"),
    "grace_hopper": _matplotlib("grace_hopper.jpg"), "motorcycle_left": _motorcycle(0),
    "motorcycle_right": _motorcycle(1), "hubble_deep_field": _skimage("hubble_deep_field"),
    "immunohistochemistry": _skimage("immunohistochemistry"), "retina": _skimage("retina"),
    "camera": _skimage("camera"), "brick": _skimage("brick"), "grass": _skimage("grass"),
    "gravel": _skimage("gravel"), "moon": _skimage("moon"), "coins": _skimage("coins"), "clock": _skimage("clock"),
}
HELD_OUT = ("astronaut", "chelsea", "coffee", "rocket")
TRAINING = tuple(name for name in PHOTOS if name not in HELD_OUT)


def load_photo(name: str) -> torch.Tensor:
    """(3, H, W) float32 in [-1, 1]."""
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}; expected one of {sorted(PHOTOS)}")
    array = np.asarray(PHOTOS[name][0]())
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return torch.from_numpy(np.array(array[:, :, :3], dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1


def resize_short_side(image: torch.Tensor, side: int) -> torch.Tensor:
    """Antialiased bicubic resize of (3, H, W) so that the shorter side is ``side``."""
    scale = side / min(image.shape[-2:])
    size = (max(side, round(image.shape[-2] * scale)), max(side, round(image.shape[-1] * scale)))
    return torch.nn.functional.interpolate(image[None], size=size, mode="bicubic", antialias=True,
                                           align_corners=False)[0].clamp(-1, 1)


def pyramid(image: torch.Tensor, crop: int, levels: int = 6) -> list[torch.Tensor]:
    """The photo at ``levels`` scales, log-spaced from short side ``crop`` (the whole view) to the
    native resolution (pixel-level detail)."""
    native = min(image.shape[-2:])
    sides = sorted({int(round(s)) for s in np.geomspace(crop, native, levels)})
    return [resize_short_side(image, s) if s < native else image for s in sides]


class CropSampler:
    """Random ``crop`` x ``crop`` crops of the given photos at several scales, with horizontal flips,
    drawn from a seeded numpy generator (a batch depends only on the seed and its index)."""

    def __init__(self, names, crop: int, seed: int, levels: int = 6):
        self.crop = crop
        self.levels = [level for name in names for level in pyramid(load_photo(name), crop, levels)]
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> torch.Tensor:
        out = torch.empty(size, 3, self.crop, self.crop)
        for b in range(size):
            image = self.levels[self.rng.integers(len(self.levels))]
            top = self.rng.integers(image.shape[-2] - self.crop + 1)
            left = self.rng.integers(image.shape[-1] - self.crop + 1)
            patch = image[:, top : top + self.crop, left : left + self.crop]
            out[b] = patch.flip(-1) if self.rng.random() < 0.5 else patch
        return out


MIN_VIEW_STD = 0.15  # luminance std in [-1, 1] units below which a view is nearly flat


def held_out_views(count: int, size: int, seed: int = 0, start: int = 0) -> tuple[torch.Tensor, list[dict]]:
    """Views ``start`` to ``start + count - 1`` of the held-out photos (the demo shows views 0 to 3
    and tunes its step sizes on later ones): view i is a ``size`` x ``size`` crop of held-out photo
    i mod 4, resized to a short side drawn between 2 ``size`` and its native one. Nearly flat crops
    (sky, wall) are redrawn, so that every view shows structure a reader can judge. A view depends
    only on (seed, i), not on ``count`` or ``start``."""
    photos = {name: load_photo(name) for name in HELD_OUT}
    largest = min(min(photo.shape[-2:]) for photo in photos.values()) // 2
    if not 8 <= size <= largest:
        raise ValueError(f"held-out photo views: image_size must be between 8 and {largest} (half the shortest "
                         f"photo side), got {size}")
    images, manifest = [], []
    for i in range(start, start + count):
        name = HELD_OUT[i % len(HELD_OUT)]
        photo = photos[name]
        rng = view_rng(seed, i)
        for _attempt in range(1000):
            side = int(rng.integers(2 * size, min(photo.shape[-2:]) + 1))
            view = resize_short_side(photo, side)
            top, left = int(rng.integers(view.shape[-2] - size + 1)), int(rng.integers(view.shape[-1] - size + 1))
            crop = view[:, top : top + size, left : left + size]
            if crop.mean(0).std() >= MIN_VIEW_STD:
                break
        else:
            raise RuntimeError(f"held-out photo views: no crop of {name} with luminance std >= {MIN_VIEW_STD} "
                               f"in 1000 draws at image_size {size}")
        images.append(crop)
        manifest.append(dict(id=f"{name}_{i:03d}", source=f"{PHOTOS[name][1]}: short side {side}, crop at ({top}, {left})",
                             sha256=image_sha256(crop)))
    return torch.stack(images), manifest

