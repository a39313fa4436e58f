"""The tuning step: a sweep's scores joined with its points, the choice per (dataset, task,
sampler) written to ``selected.yaml``, and the test samplers with the chosen step sizes."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from ..pipeline.config import SamplerSpec
from .stability import PROFILE_KEYS, profile, stability_table
from .sweep import point_scores, select, step_param

RULE = ("per dataset, task and sampler, the grid point with the best mean {metric} over the validation images "
        "(each image's mean over its repeats), among the points at which no restoration diverged; a tie goes to the "
        "step size nearest the configured one (log scale); where every point diverged, the configured value stays")


def sweep_scores(per_image: pd.DataFrame, points: pd.DataFrame) -> pd.DataFrame:
    """Per-image scores of the sweep's restorations (their ``sampler`` is a sweep point's name)
    with each point's tuned sampler and step size: ``points`` has columns dataset, task, point,
    sampler, step_size (``sweep_points_table`` in the workflow)."""
    keyed = per_image.rename(columns={"sampler": "point"})
    return keyed.merge(points[["dataset", "task", "point", "sampler", "step_size"]], on=["dataset", "task", "point"],
                       how="inner", validate="many_to_one")


def choose(scores: pd.DataFrame, points: pd.DataFrame, metric: str) -> list[dict]:
    """The choice of every swept (dataset, task, sampler): its parameter, the configured and the
    selected step size, the grid with each point's mean ``metric`` (None where a restoration
    diverged) and the reason."""
    scored = point_scores(scores, metric)
    choices = []
    for (dataset, task, sampler), grid in points.groupby(PROFILE_KEYS, sort=False):
        configured = float(grid["configured"].iloc[0])
        rows = scored[(scored["dataset"] == dataset) & (scored["task"] == task) & (scored["sampler"] == sampler)]
        rows = rows.sort_values("step_size")
        choice = select(rows, metric, configured)
        choices.append(dict(dataset=dataset, task=task, sampler=sampler, parameter=str(grid["parameter"].iloc[0]),
                            configured=configured, selected=choice.selected,
                            grid=[float(v) for v in rows["step_size"]],
                            scores=[None if d or not math.isfinite(s) else round(float(s), 6)
                                    for s, d in zip(rows["score"], rows["diverged"])],
                            reason=choice.reason))
    return choices


def tuning_results(per_image: pd.DataFrame, points: pd.DataFrame, metric: str):
    """(choices, PSNR profile, stability table) of a sweep: what the tuning step writes."""
    scores = sweep_scores(per_image, points)
    choices = choose(scores, points, metric)
    points_profile = profile(scores, "psnr")
    selected = {(c["dataset"], c["task"], c["sampler"]): c["selected"] for c in choices}
    return choices, points_profile, stability_table(points_profile, selected)


def write_selected(path, choices: list[dict], metric: str) -> None:
    import yaml

    document = dict(metric=metric, rule=RULE.format(metric=metric), choices=choices)
    with open(path, "w") as handle:
        yaml.safe_dump(document, handle, sort_keys=False, width=110)


def read_selected(path) -> dict[tuple, tuple[str, float]]:
    """{(dataset, task, sampler): (parameter, selected step size)} from a ``selected.yaml``."""
    import yaml

    with open(path) as handle:
        document = yaml.safe_load(handle)
    try:
        return {(c["dataset"], c["task"], c["sampler"]): (c["parameter"], float(c["selected"]))
                for c in document["choices"]}
    except (TypeError, KeyError, ValueError) as error:
        raise ValueError(f"{path}: not a tuning choice file ({error!r}); delete it and rerun the tuning step") from None


def with_selected(spec: SamplerSpec, dataset: str, task: str, chosen: dict[tuple, tuple[str, float]],
                  base: SamplerSpec | None = None) -> SamplerSpec:
    """``spec`` running on ``task`` with the step size ``chosen`` for (dataset, task, ``base``),
    if the sweep chose one, else unchanged (an untuned sampler keeps its configured value).
    ``base`` (default ``spec`` itself): the tuned sampler whose choice applies, e.g. an ablation
    point's base; its choice is scaled by ``spec``'s configured step size over ``base``'s (1 unless
    the ablation scales the step size, as ``lr_scale`` does)."""
    base = base or spec
    if (dataset, task, base.name) not in chosen:
        return spec
    parameter, value = chosen[(dataset, task, base.name)]
    if parameter != step_param(spec.variant) or parameter != step_param(base.variant):
        raise ValueError(f"the tuning choice for {base.name} sets {parameter}, not the step size of {spec.name}")
    value *= spec.settings(task)[parameter] / base.settings(task)[parameter]
    overrides = {**spec.task_params.get(task, {}), parameter: value}
    return dataclasses.replace(spec, task_params={**spec.task_params, task: overrides})
