"""Step-size sweeps: which parameter is a sampler's step size, the sweep's points, and the choice.

A sweep restores held-out (validation) images with each tuned sampler at several step sizes: the
configured value times each of ``factors`` (per task, as the sampler's ``task_params`` set it), or
explicit ``values``. Every point is a sampler of its own, named ``SAMPLER_step=FACTOR`` or
``SAMPLER_PARAM=VALUE``, run by the workflow's ordinary sample jobs."""

from __future__ import annotations

import dataclasses
import math

import pandas as pd

from ..metrics import HIGHER_IS_BETTER
from ..pipeline.config import SamplerSpec
from ..samplers import VARIANTS

# The step-size parameter of each sampler class: SPGD's and DAPS's learning rate (DAPS: of its
# Langevin steps), DPS's (and DPS-GM's) guidance scale zeta.
STEP_PARAMS = {"spgd": "lr", "dps": "zeta", "dps_gm": "zeta", "daps": "lr"}
# Factors of the configured step size, a sweep's default grid: a factor of 64 in all, in factors of 2
FACTORS = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
# PSNR ranks points by default: the paper's first metric, defined for every image without a network,
# and the one the stable width is measured in
OBJECTIVE = "psnr"


def step_param(variant: str) -> str:
    """The name of ``variant``'s step-size parameter (``lr`` or ``zeta``)."""
    return STEP_PARAMS[VARIANTS[variant][0]]


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """One point of a sampler's sweep: ``factor`` times its configured step size (per task), or
    the explicit ``value`` on every task; ``spec`` is the sampler that runs it."""

    sampler: str
    factor: float | None
    value: float | None
    spec: SamplerSpec

    def step_size(self, task: str) -> float:
        return self.spec.settings(task)[step_param(self.spec.variant)]


def sweep_points(spec: SamplerSpec, factors=FACTORS, values=None) -> list[SweepPoint]:
    """The sweep of ``spec``: one point per factor (its step size, in ``params`` and every per-task
    override, multiplied) or, given ``values``, one per value (set in ``params``, per-task
    overrides of it dropped). Points are named after the sampler, so two sweeps never share one."""
    param = step_param(spec.variant)
    if param not in spec.params:
        raise ValueError(f"sampler {spec.name}: no {param} in its params to sweep")
    points = []
    if values is not None:
        for value in values:
            point = dataclasses.replace(
                spec, name=f"{spec.name}_{param}={value:g}", params={**spec.params, param: value},
                task_params={t: {k: v for k, v in p.items() if k != param} for t, p in spec.task_params.items()})
            points.append(SweepPoint(spec.name, None, value, point))
        return points
    for factor in factors:
        scaled = lambda p, factor=factor: {**p, param: p[param] * factor} if param in p else p
        point = dataclasses.replace(spec, name=f"{spec.name}_step={factor:g}", params=scaled(spec.params),
                                    task_params={t: scaled(p) for t, p in spec.task_params.items()})
        points.append(SweepPoint(spec.name, factor, None, point))
    return points


def point_scores(per_image: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (dataset, task, sampler, step_size) of a sweep's per-image scores (columns dataset, task,
    sampler, step_size, image, repeat, diverged, metric, value): the mean over images of each image's
    mean over its repeats (``score``, ``spgd.tuning.stability.profile``'s mean), the number of
    restorations, and how many diverged. A diverged restoration has no value; its point counts as
    diverged (``select`` never picks it)."""
    from .stability import profile

    points = profile(per_image, metric)
    diverged = (points["divergence_rate"] * points["restorations"]).round().astype(int)
    return points.assign(score=points["mean"], diverged=diverged)[
        ["dataset", "task", "sampler", "step_size", "restorations", "diverged", "score"]]


@dataclasses.dataclass(frozen=True)
class Choice:
    """The step size a sweep chose for one (dataset, task, sampler), and why."""

    configured: float
    selected: float
    reason: str


def select(points: pd.DataFrame, metric: str, configured: float) -> Choice:
    """The best point of one sweep (rows of ``point_scores`` for one dataset, task and sampler):
    the highest mean ``metric`` (lowest, for a metric where lower is better) among the points at
    which no restoration diverged; a tie goes to the step size nearest ``configured`` in log scale.
    When every point diverged the configured value stays, and the reason says so."""
    alive = points[(points["diverged"] == 0) & points["score"].notna()]
    if alive.empty:
        return Choice(configured, configured, "every point of the grid diverged: the configured value is kept")
    sign = -1 if HIGHER_IS_BETTER[metric] else 1
    ranked = sorted(alive.itertuples(), key=lambda p: (sign * p.score, abs(math.log(p.step_size / configured))))
    best = ranked[0]
    return Choice(configured, float(best.step_size),
                  f"{'highest' if sign < 0 else 'lowest'} mean {metric} among the {len(alive)} of {len(points)} "
                  "points at which no restoration diverged")


@dataclasses.dataclass(frozen=True)
class TuningPlan:
    """A config's ``tuning`` section decoded: per tuned dataset its validation images (a dataset
    entry) and tuned tasks, per tuned sampler its sweep points, the repeats per point and the
    objective ``metric``."""

    validation: dict[str, dict]
    tasks: dict[str, list[str]]
    points: dict[str, list[SweepPoint]]
    repeats: int
    metric: str

    @property
    def samplers(self) -> dict[str, SamplerSpec]:
        """Every sweep point's sampler, by name (the sweep's sample jobs run these)."""
        return {point.spec.name: point.spec for points in self.points.values() for point in points}

    @property
    def metrics(self) -> list[str]:
        """What the sweep's metrics jobs compute: the objective and PSNR (the stable width's)."""
        return list(dict.fromkeys([self.metric, "psnr"]))

    def point(self, name: str) -> SweepPoint:
        return next(point for points in self.points.values() for point in points if point.spec.name == name)


def tuning_plan(config: dict, specs: dict[str, SamplerSpec]) -> TuningPlan | None:
    """The ``TuningPlan`` of ``config`` (schema defaults filled), None without a ``tuning`` section;
    ``specs``: the configured samplers (``sampler_specs``)."""
    from ..pipeline.config import dataset_tasks

    tuning = config.get("tuning")
    if not tuning:
        return None
    tasks = {dataset: [t for t in dataset_tasks(config, dataset) if t in tuning.get("tasks", config["tasks"])]
             for dataset in tuning["validation"]}
    names = tuning.get("samplers", list(config["samplers"]))
    points = {name: sweep_points(specs[name], tuning["factors"], tuning["values"].get(name)) for name in names}
    return TuningPlan(dict(tuning["validation"]), tasks, points, tuning["repeats"], tuning["metric"])


class OverlapError(ValueError):
    """Validation images that are also test images."""


def check_disjoint(test: list[dict], validation: list[dict]) -> None:
    """Refuse validation images (manifest rows: id, source, sha256) whose sha256 is a test image's,
    naming both: tuning on a test image would make the test score a training score."""
    test_ids = {}
    for row in test:
        test_ids.setdefault(row["sha256"].lower(), row["id"])
    shared = [(row["id"], test_ids[row["sha256"].lower()]) for row in validation if row["sha256"].lower() in test_ids]
    if shared:
        raise OverlapError(f"{len(shared)} validation image(s) equal test images (same sha256): "
                           + ", ".join(f"{validation_id} = test image {test_id}" for validation_id, test_id in shared)
                           + "; choose validation images outside the test set (tuning.validation)")
