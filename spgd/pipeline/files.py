"""The workflow's intermediate files, written (a dataset's images and manifest) and read back: a
file that cannot be read, or that holds other images or repeats than the config asks for, is
refused with its path and what it holds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import torch


class ResultFileError(ValueError):
    """An intermediate file cannot be read, or lacks what its writer puts in it; the message
    names the file."""


def read_result(path, keys: tuple[str, ...] = ()) -> dict:
    """A tensor file the workflow wrote (``torch.load`` with weights only: loading never runs
    code), checked to hold ``keys``. Raises ResultFileError naming ``path`` when it is truncated,
    not a torch file, or lacks a key."""
    try:
        data = torch.load(path, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors
        raise ResultFileError(f"{path}: not a readable result file ({type(error).__name__}: {error}); delete it and "
                              "rerun the job that writes it") from None
    missing = [key for key in keys if not isinstance(data, dict) or key not in data]
    if missing:
        raise ResultFileError(f"{path}: lacks {', '.join(missing)}; it was not written by this workflow's step, or "
                              "by an older version: delete it and rerun the job that writes it")
    return data


def shard_indices(total: int, shard: int, shard_size: int) -> list[int]:
    """Positions in the data set of the images of shard ``shard``: shards of ``shard_size`` images
    in data set order, the last one shorter."""
    return list(range(shard * shard_size, min(total, (shard + 1) * shard_size)))


def read_json_result(path) -> dict:
    """A JSON record the workflow wrote (a sample job's stats); errors name ``path``."""
    try:
        return json.loads(Path(path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultFileError(f"{path}: not a readable JSON record ({error}); delete it and rerun the job that "
                              "writes it") from None


MANIFEST_COLUMNS = ["id", "source", "sha256"]


def write_dataset(images: torch.Tensor, manifest: list[dict], images_path, manifest_path) -> None:
    """A dataset job's outputs: the images with their ids (``images.pt``) and the manifest
    (MANIFEST_COLUMNS, one row per image, in data set order)."""
    torch.save({"images": images, "ids": [row["id"] for row in manifest]}, images_path)
    with open(manifest_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(manifest)


def read_manifest(path) -> list[dict]:
    """The rows (id, source, sha256) of a dataset's manifest.csv, in data set order (as strings:
    an id of digits stays what it is)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"id", "sha256"} - set(rows[0]) if rows else set()
    if missing:
        raise ResultFileError(f"{path}: no {', '.join(sorted(missing))} column; delete it and rerun its dataset job")
    return rows


def read_manifest_ids(path) -> list[str]:
    """The image ids of a dataset's manifest.csv, in data set order."""
    return [row["id"] for row in read_manifest(path)]


class StaleShardError(ResultFileError):
    """A shard file holds other images or another number of repeats than the config asks for: it
    was written under other settings. The message names the file, what it holds and what was asked."""


def _id_list(ids) -> str:
    ids = list(ids)
    return ", ".join(map(str, ids)) if len(ids) <= 6 else f"{ids[0]}, {ids[1]}, ..., {ids[-1]} ({len(ids)} images)"


def check_shards(shards: list[tuple[str, list, int]], image_ids: list, shard_size: int, repeats: int) -> None:
    """Refuse the shards of one (dataset, task, sampler) unless shard k holds the images ``k *
    shard_size`` up to ``(k + 1) * shard_size`` of ``image_ids``, ``repeats`` times each.
    ``shards``: (file, image ids it holds, repeats it holds), in shard order. Raises
    StaleShardError naming the first file that does not."""
    total = len(image_ids)
    expected = [[image_ids[i] for i in shard_indices(total, k, shard_size)] for k in range(-(-total // shard_size))]
    if len(shards) != len(expected):
        raise StaleShardError(f"{len(shards)} shard files ({shards[0][0] if shards else 'none'}, ...) where the config "
                              f"asks for {len(expected)} ({len(image_ids)} images, shard_size {shard_size})")
    for (path, held, held_repeats), wanted in zip(shards, expected):
        if list(held) != list(wanted) or held_repeats != repeats:
            raise StaleShardError(
                f"{path} holds images {_id_list(held)} x {held_repeats} repeats, where the config asks for images "
                f"{_id_list(wanted)} x {repeats} repeats (shard_size {shard_size}, repeats {repeats}): it was "
                "written under other settings. Rerun its sample job (delete the file, or snakemake --forcerun "
                "sample)")


def check_shard_records(records: list[tuple[str, dict]], ids_by_dataset: dict[str, list], shard_size: int,
                        repeats: int) -> None:
    """``check_shards`` for sample jobs' stats records: ``records`` are (file, record) in shard
    order within each (dataset, task, sampler), as the workflow lists them; each record says which
    images (``images``) it restored how often (``repeats``)."""
    groups: dict[tuple, list] = {}
    for path, record in records:
        missing = [key for key in ("dataset", "task", "sampler", "images", "repeats") if key not in record]
        if missing:
            raise ResultFileError(f"{path}: lacks {', '.join(missing)}; delete it and rerun its sample job")
        groups.setdefault((record["dataset"], record["task"], record["sampler"]), []).append(
            (path, record["images"], record["repeats"]))
    for (dataset, _, _), shards in groups.items():
        check_shards(shards, ids_by_dataset[dataset], shard_size, repeats)
