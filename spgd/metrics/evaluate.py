"""Scoring one sampler's restorations: rows for the tidy tables.

A metric that cannot be computed (its network missing, images too small, too few images) gets NaN
values and the reason in the ``unavailable`` column; nothing is computed with stand-in weights.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from ..data import list_images
from .distribution import frechet_distance, inception_features, kernel_inception_distance
from .weights import MetricUnavailable


def score_images(restored: torch.Tensor, reference: torch.Tensor, image_ids: list, metrics: list[str],
                 hub_dir: str | Path | None, unavailable: dict[str, str] | None = None,
                 device: str = "cpu", diverged_step: torch.Tensor | None = None) -> list[dict]:
    """``restored`` (repeats, B, C, H, W) against ``reference`` (B, C, H, W): one row per image,
    repeat and metric (image, repeat, diverged, diverged_step, metric, value, unavailable);
    ``diverged_step`` (repeats, B): the sampler's step where a restoration diverged, else -1
    (default: unknown, -1 for every restoration, diverged or not). Each image is scored
    on its own, so that its value never depends on the images batched with it (LPIPS moves by
    ~1e-8 with the batch)."""
    from . import per_image_metric

    unavailable = unavailable or {}
    rows = []
    steps = torch.full(restored.shape[:2], -1, dtype=torch.long) if diverged_step is None else diverged_step
    for repeat, images in enumerate(restored):
        diverged = ~torch.isfinite(images.flatten(1)).all(1)
        for metric in metrics:
            reason, values = unavailable.get(metric, ""), [math.nan] * len(image_ids)
            if not reason:
                try:
                    values = [per_image_metric(metric, images[b:b + 1], reference[b:b + 1], hub_dir, device).item()
                              for b in range(len(image_ids))]
                except MetricUnavailable as error:
                    reason = str(error)
            rows += [dict(image=image_id, repeat=repeat, diverged=bool(diverged[b]),
                          diverged_step=int(steps[repeat, b]), metric=metric, value=values[b], unavailable=reason)
                     for b, image_id in enumerate(image_ids)]
    return rows


def score_sets(repeat_folders: list[str | Path], truth_folder: str | Path, metrics: list[str],
               hub_dir: str | Path, unavailable: dict[str, str] | None = None, seed: int = 0,
               device: str = "cpu", truth_features: dict | None = None) -> list[dict]:
    """FID/KID of each repeat's folder of restored PNGs against the ground-truth PNGs: one row per
    repeat and metric (repeat, metric, value, spread (KID's std over subsets), n: the restored
    images it was computed on, diverged: the ground-truth images without one, unavailable).
    ``truth_features``: a dict the caller keeps across calls on the same ground truth, so its
    Inception features are computed once (they do not depend on what they are compared with)."""
    unavailable = unavailable or {}
    truth_features = {} if truth_features is None else truth_features
    rows = []
    for repeat, folder in enumerate(repeat_folders):
        files = list_images(folder)  # diverged restorations have no PNG: the set is what was restored
        shared = next((unavailable[m] for m in metrics if m in unavailable), "")
        features = None
        if not shared:  # FID and KID share the Inception features
            try:
                key = (str(truth_folder), str(hub_dir), str(device))
                if key not in truth_features:
                    truth_features[key] = inception_features(list_images(truth_folder), hub_dir, device)
                truth = truth_features[key]
                features = inception_features(files, hub_dir, device)
            except MetricUnavailable as error:
                shared = str(error)
        for metric in metrics:
            value, spread, reason = math.nan, math.nan, shared
            if features is not None:
                try:
                    if metric == "fid":
                        value = frechet_distance(features, truth)
                    else:
                        value, spread = kernel_inception_distance(features, truth, seed=seed)
                except MetricUnavailable as error:
                    reason = str(error)
            rows.append(dict(repeat=repeat, metric=metric, value=value, spread=spread, n=len(files),
                             diverged=len(list_images(truth_folder)) - len(files), unavailable=reason))
    return rows
