import functools
import math

from snakemake.utils import validate

from spgd.pipeline import config as configuration
from spgd.pipeline.config import dataset_tasks, expand_ablations
from spgd.pipeline.fetch import external_inputs, missing_inputs_message
from spgd.metrics import SET_METRICS
from spgd.metrics.weights import WEIGHT_FILES

validate(config, "../schemas/config.schema.yaml", set_default=True)


ABLATIONS = expand_ablations(config)
DATASETS = list(config["datasets"])
TASKS = list(config["tasks"])
RUNS = list(config["samplers"])


ANGLE_TASKS = config.get("angles", {}).get("tasks", [])
ANGLE_RUNS = config.get("angles", {}).get("samplers", [])

# metrics: per image (PSNR, SSIM, LPIPS) and per image set (FID, KID); the hub files they need
PER_IMAGE = [m for m in config["metrics"] if m not in SET_METRICS]
PER_SET = [m for m in config["metrics"] if m in SET_METRICS]
WEIGHT_KEYS = [key for key, spec in WEIGHT_FILES.items() if set(spec.used_by) & set(config["metrics"])]


def tasks_of(dataset):
    return dataset_tasks(config, dataset)


def operator_options(task):
    """A task's operator options: its config entry without the weights' fetch source."""
    return {key: value for key, value in config["tasks"][task].items() if key != "source"}


def traced(task, run):
    return task in ANGLE_TASKS and run in ANGLE_RUNS


def angle_figures():
    """One figure per dataset that runs a traced task."""
    return [f"results/figures/angles_{dataset}.png" for dataset in DATASETS
            if ANGLE_RUNS and set(ANGLE_TASKS) & set(tasks_of(dataset))]


def prior_of(dataset):
    return configuration.prior_of(config, dataset)


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
    for name, dataset in config["datasets"].items():
        unknown = set(dataset.get("tasks", [])) - set(TASKS)
        if unknown:
            raise ValueError(f"config datasets.{name}.tasks: {sorted(unknown)} are not in 'tasks'")
    if "nonlinear_blur" in config["tasks"] and not config["tasks"]["nonlinear_blur"].get("weights"):
        raise ValueError("config tasks.nonlinear_blur.weights: the path of BKSE's GOPRO_wVAE.pth is required")
    for key, chosen, known in (("tasks", ANGLE_TASKS, TASKS), ("samplers", ANGLE_RUNS, RUNS)):
        unknown = set(chosen) - set(known)
        if unknown:
            raise ValueError(f"config angles.{key}: {sorted(unknown)} are not configured {key}")


check_config()

# External inputs (checkpoints, BKSE weights, image folders): the missing ones are fetched by
# fetch_* jobs before anything uses them (fetch: true), else the workflow stops here, dry runs too.
EXTERNAL_INPUTS = external_inputs(config)
MISSING_INPUTS = [item for item in EXTERNAL_INPUTS if not item.present()]
if MISSING_INPUTS and not config["fetch"]:
    raise FileNotFoundError(missing_inputs_message(MISSING_INPUTS))
unfetchable = [item for item in MISSING_INPUTS if not item.urls]
if unfetchable:
    raise FileNotFoundError("missing inputs without a configured source (nothing was run):\n"
                            + "\n".join(f"  - {item.where_to_get()}" for item in unfetchable))


def task_weights(task):
    """The external weight file a task's operator reads (BKSE's model for nonlinear deblurring)."""
    return [config["tasks"][task]["weights"]] if task == "nonlinear_blur" else []


def prior_weights(dataset):
    prior = prior_of(dataset)
    return [prior["checkpoint"]] if prior["type"] in ("adm", "edm_unet") and prior.get("checkpoint") else []


def image_folder_input(dataset):
    spec = config["datasets"][dataset]
    return [spec["path"]] if spec["kind"] == "image_folder" else []


@functools.cache  # the DAG asks once per (task, run, shard): list a folder once
def image_count(dataset):
    return configuration.image_count(config, dataset)


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
    return [f"results/{folder}/{dataset}/{task}.csv" for folder in ("metrics", "set_metrics")
            for dataset in DATASETS for task in tasks_of(dataset)]


def all_measurements():
    return [f"results/degraded/{dataset}/{task}/measurements.pt" for dataset in DATASETS for task in tasks_of(dataset)]


def all_shard_files(extension):
    return [
        shard_file(dataset, task, run, shard, extension)
        for dataset in DATASETS
        for task in tasks_of(dataset)
        for run in RUNS
        for shard in shards(dataset)
    ]
