"""Image grids for the report and the measurement previews: one row per image, tiles scaled to
a common size, measurements outside [-1, 1] rescaled for display."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import torch
from PIL import Image

from ..data import to_uint8
from ..pipeline.files import read_result

IMAGES_SHOWN = 4  # rows of a task's image grid in the report


def _display_tile(image: torch.Tensor, size: int) -> np.ndarray:
    """uint8 HxWx3 tile; images outside [-1, 1] (amplitudes, NaN) are min-max rescaled."""
    image = image.detach().double().cpu()
    if image.min() < -1 or image.max() > 1 or not torch.isfinite(image).all():
        finite = torch.nan_to_num(image, nan=0.0, posinf=0.0, neginf=0.0)
        image = (finite - finite.min()) / (finite.max() - finite.min() + 1e-12) * 2 - 1
    array = to_uint8(image)
    tile = Image.fromarray(np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array)
    return np.asarray(tile.resize((size, size), Image.NEAREST))


def image_grid(rows: list[list[torch.Tensor]], path, tile: int = 64, gap: int = 2) -> None:
    """Save a PNG grid: one row per list, each image (C, H, W) shown as a ``tile``-px square."""
    width = len(rows[0]) * (tile + gap) - gap
    canvas = np.full((len(rows) * (tile + gap) - gap, width, 3), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            top, left = r * (tile + gap), c * (tile + gap)
            canvas[top : top + tile, left : left + tile] = _display_tile(image, tile)
    Image.fromarray(canvas).save(path, format="PNG")


def png_bytes(save) -> bytes:
    """The bytes ``save(handle)`` writes, e.g. ``png_bytes(lambda h: image_grid(rows, h))``."""
    buffer = io.BytesIO()
    save(buffer)
    return buffer.getvalue()


@dataclasses.dataclass
class TaskGrid:
    """One task's images for the report, labelled: ``columns`` ("ground truth", "measurement", then
    the samplers) and ``rows`` (image id, one PNG tile per column)."""

    columns: list[str]
    rows: list[tuple[str, list[bytes]]]


def task_grid(images_file, measurements_file, restored: dict[str, list], shown: int, tile: int = 64) -> TaskGrid:
    """The first ``shown`` images of a task: ground truth, measurement (rescaled for display), then
    the first restoration of each sampler of ``restored`` ({sampler: its shard files, in order}),
    reading only the shards that hold the shown images; each a ``tile``-px PNG."""
    data = read_result(images_file, ("images", "ids"))
    shown = min(shown, len(data["ids"]))
    columns = [data["images"][:shown], read_result(measurements_file, ("y",))["y"][:shown]]
    for paths in restored.values():
        images = []
        for path in paths:
            if len(images) >= shown:
                break
            images.extend(read_result(path, ("x",))["x"][0])
        columns.append(images[:shown])
    tile_png = lambda image: png_bytes(lambda handle: Image.fromarray(_display_tile(image, tile)).save(handle, "PNG"))
    return TaskGrid(["ground truth", "measurement", *restored],
                    [(str(data["ids"][i]), [tile_png(column[i]) for column in columns]) for i in range(shown)])
