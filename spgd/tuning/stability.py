"""The stability profile of a sampler from its step-size sweep, and its stable width.

**Stable width** (of one dataset, task and sampler): a grid point is *stable* when none of its
restorations diverged and its mean PSNR is within ``TOLERANCE_DB`` (1 dB) of the best mean PSNR of
the sweep's points without a diverged restoration. The stable width is log2(largest / smallest
step size) of the *contiguous* run of stable points, in step-size order, that holds the best point:
a point that diverged or lost more than 1 dB between two stable points ends the run, and stable
points beyond it do not count. One stable point alone has width 0; a sweep in which every point
diverged has none (NaN). When the run reaches either end of the grid the true width may be larger:
the width is then a lower bound and ``open`` says at which end (``low``, ``high`` or ``both``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

TOLERANCE_DB = 1.0
PROFILE_KEYS = ["dataset", "task", "sampler"]


def stable_width(step_sizes, mean_psnr, diverged) -> tuple[float, str]:
    """(width, open ends) of one sweep: ``step_sizes`` with each point's ``mean_psnr`` and whether
    any restoration at it ``diverged`` (see the module's definition); open ends "", "low", "high"
    or "both"."""
    order = np.argsort(np.asarray(step_sizes, dtype=float))
    steps = np.asarray(step_sizes, dtype=float)[order]
    psnr = np.asarray(mean_psnr, dtype=float)[order]
    dead = np.asarray(diverged, dtype=bool)[order] | ~np.isfinite(psnr)
    if dead.all():
        return math.nan, ""
    best = int(np.argmax(np.where(dead, -np.inf, psnr)))
    stable = ~dead & (psnr >= psnr[best] - TOLERANCE_DB)
    low = high = best
    while low > 0 and stable[low - 1]:
        low -= 1
    while high < len(steps) - 1 and stable[high + 1]:
        high += 1
    ends = [name for name, reached in (("low", low == 0), ("high", high == len(steps) - 1)) if reached]
    return float(np.log2(steps[high] / steps[low])), "both" if len(ends) == 2 else "".join(ends)


def profile(per_image: pd.DataFrame, metric: str = "psnr") -> pd.DataFrame:
    """Per (dataset, task, sampler, step_size) of a sweep's per-image scores (columns of
    ``spgd.tuning.sweep.point_scores``' input): the mean ``metric`` over images (each image's mean
    over its repeats that did not diverge), its lowest and highest image (the plot's band), the 5th
    percentile over images, the divergence rate (diverged restorations / restorations) and the seed
    spread (each image's standard deviation over its repeats, averaged over images; NaN with one
    repeat)."""
    rows = per_image[per_image["metric"] == metric]
    keys = [*PROFILE_KEYS, "step_size"]
    out = []
    for key, group in rows.groupby(keys, sort=False):
        alive = group[~group["diverged"].astype(bool)]
        by_image = alive.groupby("image", sort=False)["value"]
        means = by_image.mean()
        spread = by_image.std(ddof=1).dropna()
        out.append(dict(zip(keys, key), mean=means.mean() if len(means) else math.nan,
                        image_low=means.min() if len(means) else math.nan,
                        image_high=means.max() if len(means) else math.nan,
                        p5=float(np.percentile(means, 5)) if len(means) else math.nan,
                        seed_spread=spread.mean() if len(spread) else math.nan,
                        restorations=len(group), divergence_rate=group["diverged"].astype(bool).mean()))
    return pd.DataFrame(out).sort_values(keys, kind="stable", ignore_index=True)


def stability_table(points: pd.DataFrame, selected: dict[tuple, float]) -> pd.DataFrame:
    """Per (dataset, task, sampler) of a PSNR ``profile``: the stable width and its open ends, the
    divergence rate over the whole grid, and at the ``selected`` step size ({(dataset, task,
    sampler): step size}) the mean PSNR, the seed spread and the 5th percentile over images."""
    rows = []
    for key, group in points.groupby(PROFILE_KEYS, sort=False):
        width, open_ends = stable_width(group["step_size"], group["mean"], group["divergence_rate"] > 0)
        chosen = group[np.isclose(group["step_size"], selected.get(key, math.nan))]
        at = chosen.iloc[0] if len(chosen) else None
        rows.append(dict(zip(PROFILE_KEYS, key), stable_width=width, open=open_ends,
                         divergence_rate=(group["divergence_rate"] * group["restorations"]).sum()
                         / group["restorations"].sum(),
                         selected=selected.get(key, math.nan),
                         mean=at["mean"] if at is not None else math.nan,
                         seed_spread=at["seed_spread"] if at is not None else math.nan,
                         p5=at["p5"] if at is not None else math.nan))
    return pd.DataFrame(rows)
