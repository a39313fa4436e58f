"""Decisions about a workflow configuration that the workflow and the library share: ablation
grids expanded into sampler configurations, and the tasks each dataset runs."""

from __future__ import annotations

from pathlib import Path

# each SPGD variant fixes its ADM mode: an ADM ablation picks the variant instead
ADM_VARIANTS = {"released": "spgd", "applied": "spgd_adm", "off": "spgd_no_adm"}


def expand_ablations(config: dict) -> dict[str, list[tuple]]:
    """Add one sampler configuration per grid value to ``config["samplers"]``, named
    ``BASE_PARAM=VALUE``; returns {ablation: [(value, sampler name)]}. ``lr_scale`` multiplies
    ``lr`` and every per-task ``lr``; ``adm`` picks the SPGD variant of that ADM mode."""
    grids = {}
    for name, grid in config.get("ablations", {}).items():
        if grid["base"] not in config["samplers"]:
            raise ValueError(f"config ablations.{name}.base: {grid['base']!r} is not a run of 'samplers'")
        base = config["samplers"][grid["base"]]
        grids[name] = []
        for value in grid["values"]:
            params = dict(base.get("params", {}))
            if grid["param"] == "lr_scale":
                if "lr" not in params:
                    raise ValueError(f"config ablations.{name}: lr_scale needs 'lr' in samplers.{grid['base']}.params")
                task_params = {t: {**p, "lr": p["lr"] * value} if "lr" in p else p
                               for t, p in base.get("task_params", {}).items()}
                params["lr"] = params["lr"] * value
            else:
                task_params = base.get("task_params", {})
                params[grid["param"]] = value
            variant = base["variant"]
            if grid["param"] == "adm":
                if value not in ADM_VARIANTS:
                    raise ValueError(f"config ablations.{name}.values: ADM mode {value!r} is not one of "
                                     f"{sorted(ADM_VARIANTS)} (quote 'off': YAML reads a bare off as false)")
                variant = ADM_VARIANTS[value]
                del params["adm"]
            run = f"{grid['base']}_{grid['param']}={value}"
            config["samplers"].setdefault(run, {"variant": variant, "params": params, "task_params": task_params})
            grids[name].append((value, run))
    return grids


def dataset_tasks(config: dict, dataset: str) -> list[str]:
    """The tasks run on ``dataset`` (its ``tasks``, default all), in the order of ``tasks``."""
    chosen = config["datasets"][dataset].get("tasks", list(config["tasks"]))
    return [task for task in config["tasks"] if task in chosen]


def prior_of(config: dict, dataset: str) -> dict:
    """The prior that restores ``dataset``: its own ``prior``, else the config's."""
    return config["datasets"][dataset].get("prior", config["prior"])


def image_count(config: dict, dataset: str) -> int:
    """Images of ``dataset``: its ``count``, else those in its folder from ``start`` on."""
    spec = config["datasets"][dataset]
    if "count" in spec:
        return spec["count"]
    from ..data import list_images

    if not Path(spec["path"]).is_dir():
        raise ValueError(f"config datasets.{dataset}.path: folder {spec['path']} does not exist "
                         "(give 'count' to plan the DAG without the images)")
    return len(list_images(spec["path"])) - spec.get("start", 0)
