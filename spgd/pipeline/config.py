"""A workflow configuration decoded once, for the workflow and the library alike.

Words (config/README.md, "Vocabulary"): a *sampler* is a named entry of ``samplers:`` and one row
of every table; its *variant* is the algorithm it runs (a name of ``spgd.samplers.VARIANTS``);
*repeats* is the number of restorations per image; an *ablation* varies one parameter of a base
sampler and adds one sampler per value, named ``BASE_PARAM=VALUE``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..samplers import VARIANTS, make_sampler

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

def adm_variants() -> dict[str, str]:
    """ADM mode -> the SPGD variant that fixes it and nothing else (from ``VARIANTS``)."""
    return {fixed["adm"]: name for name, (base, fixed) in VARIANTS.items() if base == "spgd" and set(fixed) == {"adm"}}


@dataclasses.dataclass(frozen=True)
class SamplerSpec:
    """One sampler: ``variant`` with ``params``, per-task overrides ``task_params``, and
    ``sample_seed``, which gives it sampler noise of its own (seed ablations; by default every
    sampler restores an image from the same noise, see ``spgd.seeding``)."""

    name: str
    variant: str
    params: dict = dataclasses.field(default_factory=dict)
    task_params: dict = dataclasses.field(default_factory=dict)
    sample_seed: int | None = None

    @classmethod
    def from_config(cls, name: str, entry: dict) -> "SamplerSpec":
        return cls(name, entry["variant"], dict(entry.get("params", {})),
                   {task: dict(p) for task, p in entry.get("task_params", {}).items()}, entry.get("sample_seed"))

    def settings(self, task: str) -> dict:
        """The keyword arguments of the variant on ``task``: ``params`` with the task's overrides."""
        return {**self.params, **self.task_params.get(task, {})}

    def build(self, prior, task: str):
        return make_sampler(self.variant, prior, **self.settings(task))

    def planned_nfe(self, task: str) -> tuple[int, int]:
        """(forward, backward) network evaluations per restoration on ``task``."""
        return self.build(None, task).planned_nfe

    def varied(self, param: str, value) -> "SamplerSpec":
        """This sampler with one parameter set to ``value``: an ablation point. ``lr_scale``
        multiplies ``lr`` and every per-task ``lr``; ``adm`` of an SPGD variant picks the SPGD
        variant of that ADM mode (of ``dps_gm`` it is a parameter like any other); ``sample_seed``
        gives the point its own sampler noise."""
        name = f"{self.name}_{param}={value}"
        if param == "lr_scale":
            if "lr" not in self.params:
                raise ValueError(f"lr_scale needs 'lr' in samplers.{self.name}.params")
            scaled = lambda p: {**p, "lr": p["lr"] * value} if "lr" in p else p
            return dataclasses.replace(self, name=name, params=scaled(self.params),
                                       task_params={t: scaled(p) for t, p in self.task_params.items()})
        if param == "adm" and self.variant in adm_variants().values():
            modes = adm_variants()
            if value not in modes:
                raise ValueError(f"ADM mode {value!r} is not one of {sorted(modes)} "
                                 "(quote 'off': YAML reads a bare off as false)")
            return dataclasses.replace(self, name=name, variant=modes[value])
        if param == "sample_seed":
            return dataclasses.replace(self, name=name, sample_seed=value)
        return dataclasses.replace(self, name=name, params={**self.params, param: value})


def sampler_specs(config: dict) -> tuple[dict[str, SamplerSpec], dict[str, list[tuple[object, str]]]]:
    """({name: spec} for the configured samplers, then each ablation's points; {ablation: [(value,
    sampler name)]}). A point whose name is already taken is an error, not a silent reuse."""
    specs = {name: SamplerSpec.from_config(name, entry) for name, entry in config["samplers"].items()}
    ablations = {}
    for ablation, grid in config.get("ablations", {}).items():
        ablations[ablation] = []
        for value in grid["values"]:
            try:
                point = specs[grid["base"]].varied(grid["param"], value)
            except ValueError as error:
                raise ValueError(f"config ablations.{ablation}: {error}") from None
            if point.name in specs:
                raise ValueError(f"config ablations.{ablation}: its point {point.name!r} has the name of another "
                                 "sampler; rename that sampler")
            specs[point.name] = point
            ablations[ablation].append((value, point.name))
    return specs, ablations


def dataset_tasks(config: dict, dataset: str) -> list[str]:
    """The tasks run on ``dataset`` (its ``tasks``, default all), in the order of ``tasks``."""
    chosen = config["datasets"][dataset].get("tasks", list(config["tasks"]))
    return [task for task in config["tasks"] if task in chosen]


def prior_of(config: dict, dataset: str) -> dict:
    """The prior that restores ``dataset``: its own ``prior``, else the config's."""
    return config["datasets"][dataset].get("prior", config["prior"])


def image_count(config: dict, dataset: str) -> int:
    """Images of ``dataset``: its ``count``, else those in its folder from ``start`` on."""
    return entry_image_count(config["datasets"][dataset], f"datasets.{dataset}")


def entry_image_count(spec: dict, where: str) -> int:
    """Images of the dataset entry ``spec`` at config path ``where`` (of ``datasets`` or
    ``tuning.validation``): its ``count``, else those in its folder from ``start`` on."""
    if "count" in spec:
        return spec["count"]
    from ..data import list_images

    if not Path(spec["path"]).is_dir():
        raise ValueError(f"config {where}.path: folder {spec['path']} does not exist "
                         "(give 'count' to plan the DAG without the images)")
    return len(list_images(spec["path"])) - spec.get("start", 0)


def reference_sampler(config: dict) -> str | None:
    """The sampler every other is compared with image by image: ``tables.reference``, else the first
    sampler that runs the released SPGD (variant ``spgd``), else None (no paired comparisons)."""
    tables = config.get("tables", {})
    if tables.get("reference"):
        return tables["reference"]
    return next((name for name, entry in config["samplers"].items() if entry["variant"] == "spgd"), None)


def comparison(config: dict):
    """The tables' ``spgd.reporting.statistics.Comparison``: reference, confidence, bootstrap
    resamples and the config's seed."""
    from ..reporting.statistics import RESAMPLES, Comparison

    tables = config.get("tables", {})
    return Comparison(reference_sampler(config), tables.get("confidence", 0.95), tables.get("resamples", RESAMPLES),
                      config.get("seed", 0))
