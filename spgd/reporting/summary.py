"""The tidy summary of a run: per dataset, task, sampler and metric the mean over images with its
paired comparisons (``summarise``), the cost of each sampler (``cost_table``), what the report says
of the sampling (``sampling_summary``) and the rows of the ablations (``ablation_table``)."""

from __future__ import annotations

import math

import pandas as pd

from ..metrics import HIGHER_IS_BETTER, SET_METRICS
from .statistics import Comparison, paired_difference

KEYS = ["dataset", "task", "sampler"]
PER_IMAGE_COLUMNS = [*KEYS, "image", "repeat", "diverged", "diverged_step", "metric", "value", "unavailable"]
SET_COLUMNS = [*KEYS, "repeat", "metric", "value", "spread", "n", "diverged", "unavailable"]
# paired comparisons (``spgd.reporting.statistics``): with the reference sampler, and the p-value
# of the test against the best cell of the same dataset, task and metric
PAIRED_COLUMNS = ["reference", "paired_n", "difference", "difference_low", "difference_high", "p_vs_reference",
                  "p_vs_best"]
TIDY_COLUMNS = [*KEYS, "metric", "mean", "std", "n", "repeats", "restorations", "diverged", "first_diverged_step",
                "best_of_repeats", "unavailable", *PAIRED_COLUMNS]
COST_COLUMNS = [*KEYS, "jobs", "restorations", "nfe_forward", "nfe_backward", "seconds_per_restoration",
                "peak_memory_bytes", "device"]


def _reason(group: pd.DataFrame) -> str:
    reasons = sorted({r for r in group["unavailable"].fillna("") if r})
    return "; ".join(reasons)


def ranked(values: pd.Series, metric: str) -> tuple[float, float]:
    """(best, second best) distinct values for ``metric``; NaN skipped, NaN where there is none."""
    distinct = sorted(set(values.dropna()), reverse=HIGHER_IS_BETTER[metric])
    return tuple((distinct + [math.nan, math.nan])[:2])


def fully_diverged(tidy: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(dataset, task, sampler) of every cell group none of whose restorations survived: a result
    to show (tables mark it, plots skip it with a note, the report says so at the top), not a gap."""
    rows = tidy[(tidy["restorations"] > 0) & (tidy["diverged"] >= tidy["restorations"])]
    return list(dict.fromkeys(map(tuple, rows[KEYS].itertuples(index=False, name=None))))


def diverged_note(groups: list[tuple[str, str, str]]) -> str:
    """One sentence naming ``fully_diverged`` groups, "" when there are none."""
    if not groups:
        return ""
    return "Every restoration diverged (no value to show): " + "; ".join(
        f"{sampler} on {dataset} / {task}" for dataset, task, sampler in groups) + "."


def image_means(per_image: pd.DataFrame) -> dict[tuple, pd.Series]:
    """{(dataset, task, sampler, metric): each image's mean over its repeats that did not diverge,
    indexed by image}: the unit of the paired comparisons."""
    alive = per_image[~per_image["diverged"].astype(bool)].dropna(subset=["value"])
    means = alive.groupby([*KEYS, "metric", "image"], sort=False)["value"].mean()
    return {key: group.droplevel([0, 1, 2, 3]) for key, group in means.groupby(level=[0, 1, 2, 3], sort=False)}


def summarise(per_image: pd.DataFrame, per_set: pd.DataFrame | None = None,
              comparison: Comparison = Comparison()) -> pd.DataFrame:
    """Tidy summary of per-image scores (PER_IMAGE_COLUMNS) and set scores (SET_COLUMNS).

    Per-image metrics, with several restorations (repeats) per image: ``mean`` is the mean over
    images of each image's mean over its repeats (the headline); ``best_of_repeats`` the mean over
    images of each image's best repeat (an oracle, as upstream reports it); ``std`` is over images.
    Diverged restorations are counted, not averaged: ``restorations`` were attempted (images x
    repeats), ``diverged`` of them diverged, the earliest at sampler step ``first_diverged_step``
    (NaN: none); +inf PSNR (exact restoration) is kept as inf. Set metrics (FID, KID): ``mean``/
    ``std`` over repeats, ``n`` the restored images per set (diverged ones have none).

    Paired comparisons (per-image metrics; ``paired_comparisons``): ``difference`` is the mean over
    ``paired_n`` images of (this sampler - ``reference``), ``difference_low``/``_high`` its
    bootstrap interval, ``p_vs_reference`` the Wilcoxon signed-rank p-value; ``p_vs_best`` that of
    the test against the best sampler of the same dataset, task and metric."""
    rows, first_step = [], {}
    for (dataset, task, sampler, metric), group in per_image.groupby([*KEYS, "metric"], sort=False):
        diverged = group["diverged"].astype(bool)
        per_image_repeats = group[~diverged].groupby("image", sort=False)["value"]
        means = per_image_repeats.mean()
        best = per_image_repeats.max() if HIGHER_IS_BETTER[metric] else per_image_repeats.min()
        steps = group.loc[diverged, "diverged_step"]
        first_step[dataset, task, sampler] = steps.min() if len(steps) else math.nan
        rows.append(dict(dataset=dataset, task=task, sampler=sampler, metric=metric,
                         mean=means.mean() if len(means) else math.nan,
                         std=means.std(ddof=1) if len(means) > 1 else math.nan,
                         n=len(means), repeats=group["repeat"].nunique(), restorations=len(group),
                         diverged=int(diverged.sum()), first_diverged_step=first_step[dataset, task, sampler],
                         best_of_repeats=best.mean() if len(best) else math.nan, unavailable=_reason(group)))
    if per_set is not None:
        for (dataset, task, sampler, metric), group in per_set.groupby([*KEYS, "metric"], sort=False):
            values = group["value"]
            rows.append(dict(dataset=dataset, task=task, sampler=sampler, metric=metric, mean=values.mean(),
                             std=values.std(ddof=1) if len(values) > 1 else math.nan, n=int(group["n"].min()),
                             repeats=len(group), restorations=int((group["n"] + group["diverged"]).sum()),
                             diverged=int(group["diverged"].sum()),
                             first_diverged_step=first_step.get((dataset, task, sampler), math.nan),
                             best_of_repeats=math.nan, unavailable=_reason(group)))
    # rows in one order whatever order the jobs' files came in
    tidy = pd.DataFrame(rows, columns=TIDY_COLUMNS[:-len(PAIRED_COLUMNS)])
    tidy = tidy.sort_values(KEYS, kind="stable", ignore_index=True)
    return pd.concat([tidy, paired_comparisons(tidy, image_means(per_image), comparison)], axis=1)


def paired_comparisons(tidy: pd.DataFrame, means: dict[tuple, pd.Series], comparison: Comparison) -> pd.DataFrame:
    """PAIRED_COLUMNS for each row of ``tidy`` (NaN for set metrics, for the reference itself and
    for the best against itself). The best of a dataset, task and metric is the best mean among
    the samplers none of whose restorations diverged, as the tables bold it."""
    out = pd.DataFrame(math.nan, index=tidy.index, columns=PAIRED_COLUMNS)
    out["reference"] = comparison.reference or ""
    for (dataset, task, metric), cells in tidy.groupby(["dataset", "task", "metric"], sort=False):
        if metric in SET_METRICS:
            continue
        values = lambda sampler: means.get((dataset, task, sampler, metric), pd.Series(dtype=float))
        clean = cells[cells["diverged"] == 0]
        best, _ = ranked(clean["mean"], metric)
        best_sampler = None if math.isnan(best) else clean.loc[clean["mean"] == best, "sampler"].iloc[0]
        for index, sampler in cells["sampler"].items():
            reference = comparison.reference
            if reference in set(cells["sampler"]) and sampler != reference:
                found = paired_difference(values(sampler), values(reference), comparison,
                                          dataset, task, metric, sampler, reference)
                out.loc[index, ["paired_n", "difference", "difference_low", "difference_high", "p_vs_reference"]] = (
                    found["paired_n"], found["difference"], found["difference_low"], found["difference_high"],
                    found["p"])
            if best_sampler is not None and sampler != best_sampler:
                out.loc[index, "p_vs_best"] = paired_difference(values(sampler), values(best_sampler), comparison,
                                                                interval=False)["p"]
    return out


def cost_table(stats: list[dict]) -> pd.DataFrame:
    """COST_COLUMNS per dataset, task and sampler from the sample jobs' stats: network evaluations
    (forward, backward) and wall seconds per restoration, the largest peak memory of its jobs
    (CUDA: the most bytes torch allocated; CPU: the job process's peak resident memory) and the
    devices."""
    rows = []
    for (dataset, task, sampler), jobs in pd.DataFrame(stats).groupby(KEYS, sort=False):
        restorations = jobs["images"].map(len) * jobs["repeats"]
        total = restorations.sum()
        rows.append(dict(dataset=dataset, task=task, sampler=sampler, jobs=len(jobs), restorations=int(total),
                         nfe_forward=(jobs["nfe_forward"] * restorations).sum() / total,
                         nfe_backward=(jobs["nfe_backward"] * restorations).sum() / total,
                         seconds_per_restoration=jobs["wall_seconds"].sum() / total,
                         peak_memory_bytes=int(jobs["peak_memory_bytes"].max()),
                         device=", ".join(sorted(set(jobs["device"])))))
    return pd.DataFrame(rows, columns=COST_COLUMNS).sort_values(KEYS, kind="stable", ignore_index=True)


def diverged_restorations(stats: list[dict]) -> list[dict]:
    """Every diverged restoration of the sample jobs' stats: dataset, task, sampler, image, repeat
    and the sampler step where it became non-finite."""
    rows = [dict(dataset=s.get("dataset", ""), task=s["task"], sampler=s["sampler"], image=image, repeat=repeat,
                 step=step)
            for s in stats for repeat, steps in enumerate(s["diverged_step"])
            for image, step in zip(s["images"], steps) if step >= 0]
    return sorted(rows, key=lambda r: (r["dataset"], r["task"], r["sampler"], r["repeat"], str(r["image"])))


def sampling_summary(stats: list[dict]) -> dict:
    """What the report says of the sampling as a whole, from the sample jobs' stats: runs (a
    sampler on a shard), their wall seconds, the devices, the package versions and every diverged
    restoration. Written by the tables step so that the report reads one file, not every shard's."""
    return dict(runs=len(stats), wall_seconds=sum(s["wall_seconds"] for s in stats),
                devices=sorted({s["device"] for s in stats}), versions=stats[0]["versions"] if stats else {},
                diverged=diverged_restorations(stats))


def ablation_table(tidy: pd.DataFrame, ablations: dict[str, list[tuple[object, str]]]) -> pd.DataFrame:
    """Rows of ``tidy`` that belong to ablations, with columns ablation and value added."""
    parts = []
    for name, points in ablations.items():
        for value, sampler in points:
            rows = tidy[tidy["sampler"] == sampler].copy()
            rows.insert(0, "value", value)
            rows.insert(0, "ablation", name)
            parts.append(rows)
    columns = ["ablation", "value", *TIDY_COLUMNS]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
