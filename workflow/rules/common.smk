import functools
import math
from pathlib import Path

from snakemake.utils import validate

from spgd.metrics import SET_METRICS
from spgd.metrics.weights import WEIGHT_FILES

validate(config, "../schemas/config.schema.yaml", set_default=True)


def expand_ablations():
    """Add one run per grid value to config["samplers"]; return {ablation: [(value, run)]}."""
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
            if grid["param"] == "adm":  # each SPGD variant fixes its ADM mode: pick the variant instead
                variants = {"released": "spgd", "applied": "spgd_adm", "off": "spgd_no_adm"}
                if value not in variants:
                    raise ValueError(f"config ablations.{name}.values: ADM mode {value!r} is not one of "
                                     f"{sorted(variants)} (quote 'off': YAML reads a bare off as false)")
                variant = variants[value]
                del params["adm"]
            run = f"{grid['base']}_{grid['param']}={value}"
            config["samplers"].setdefault(run, {"variant": variant, "params": params, "task_params": task_params})
            grids[name].append((value, run))
    return grids


ABLATIONS = expand_ablations()
DATASETS = list(config["datasets"])
TASKS = list(config["tasks"])
RUNS = list(config["samplers"])


ANGLE_TASKS = config.get("angles", {}).get("tasks", [])
ANGLE_RUNS = config.get("angles", {}).get("samplers", [])

# metrics: per image (PSNR, SSIM, LPIPS) and per image set (FID, KID); the hub files they need
PER_IMAGE = [m for m in config["metrics"] if m not in SET_METRICS]
PER_SET = [m for m in config["metrics"] if m in SET_METRICS]
WEIGHT_KEYS = [key for key, spec in WEIGHT_FILES.items() if set(spec.used_by) & set(config["metrics"])]


def traced(task, run):
    return task in ANGLE_TASKS and run in ANGLE_RUNS


def angle_figures():
    return expand("results/figures/angles_{dataset}.png", dataset=DATASETS) if ANGLE_TASKS and ANGLE_RUNS else []


def prior_of(dataset):
    return config["datasets"][dataset].get("prior", config["prior"])


def check_config():
    """Checks the schema cannot express; run once before any job starts."""
    for name, dataset in config["datasets"].items():
        if dataset["kind"] == "image_folder" and "path" not in dataset:
            raise ValueError(f"config datasets.{name}: kind image_folder needs a 'path'")
        if dataset["kind"] in ("mixture_samples", "held_out_photos") and "count" not in dataset:
            raise ValueError(f"config datasets.{name}: kind {dataset['kind']} needs a 'count'")
    for dataset in config["datasets"]:
        if prior_of(dataset)["type"] == "adm" and not prior_of(dataset).get("checkpoint"):
            raise ValueError(f"config prior of dataset {dataset}: type adm needs a 'checkpoint' path")
    for run, spec in config["samplers"].items():
        for key, value in spec.get("params", {}).items():
            if key in ("steps", "warmup", "langevin_steps", "ode_steps") and (not isinstance(value, int) or value < 1):
                raise ValueError(f"config samplers.{run}.params.{key}: expected an integer >= 1, got {value!r}")
        unknown = set(spec.get("task_params", {})) - set(TASKS)
        if unknown:
            raise ValueError(f"config samplers.{run}.task_params: tasks {sorted(unknown)} are not in 'tasks'")
    for key, chosen, known in (("tasks", ANGLE_TASKS, TASKS), ("samplers", ANGLE_RUNS, RUNS)):
        unknown = set(chosen) - set(known)
        if unknown:
            raise ValueError(f"config angles.{key}: {sorted(unknown)} are not configured {key}")


check_config()


@functools.cache  # the DAG asks once per (task, run, shard): list a folder once
def image_count(dataset):
    spec = config["datasets"][dataset]
    if "count" in spec:
        return spec["count"]
    from spgd.data import list_images

    if not Path(spec["path"]).is_dir():
        raise ValueError(f"config datasets.{dataset}.path: folder {spec['path']} does not exist "
                         "(give 'count' to plan the DAG without the images)")
    return len(list_images(spec["path"])) - spec["start"]


def shards(dataset):
    return list(range(math.ceil(image_count(dataset) / config["shard_size"])))


def shard_file(dataset, task, run, shard, extension):
    return f"results/samples/{dataset}/{task}/{run}/shard{shard}.{extension}"


def run_shards(dataset, task):
    """{run: its sample shards} for one dataset and task."""
    return {run: [shard_file(dataset, task, run, shard, "pt") for shard in shards(dataset)] for run in RUNS}


def metric_inputs(wildcards):
    inputs = dict(images=f"results/data/{wildcards.dataset}/images.pt", weights="results/metric_weights.json",
                  shards=[p for paths in run_shards(wildcards.dataset, wildcards.task).values() for p in paths])
    if PER_SET:
        inputs["truth_png"] = f"results/png/{wildcards.dataset}/ground_truth"
    return inputs


def all_metric_tables():
    return expand("results/{folder}/{dataset}/{task}.csv", folder=["metrics", "set_metrics"],
                  dataset=DATASETS, task=TASKS)


def check_weight_files():
    """Before a real run (not a dry run): every configured weight file must exist."""
    needed = [
        (f"prior of dataset {dataset}", prior_of(dataset)["checkpoint"])
        for dataset in config["datasets"]
        if prior_of(dataset)["type"] == "adm"
        or (prior_of(dataset)["type"] == "edm_unet" and "checkpoint" in prior_of(dataset))
    ]
    if "nonlinear_blur" in config["tasks"]:
        needed.append(("tasks.nonlinear_blur.weights", config["tasks"]["nonlinear_blur"].get("weights", "")))
    missing = [f"{key} = {path!r}" for key, path in needed if not path or not Path(path).is_file()]
    if missing:
        raise FileNotFoundError(
            "missing weight files (nothing was run): " + "; ".join(missing)
            + ". See config/README.md for where to get them."
        )


def all_shard_files(extension):
    return [
        shard_file(dataset, task, run, shard, extension)
        for dataset in DATASETS
        for task in TASKS
        for run in RUNS
        for shard in shards(dataset)
    ]
