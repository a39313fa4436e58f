import dataclasses
import functools
import math

from spgd.metrics import SET_METRICS
from spgd.metrics.weights import WEIGHT_FILES
from spgd.pipeline import config as configuration
from spgd.pipeline.fetch import external_inputs, missing_inputs_message
from spgd.pipeline.validation import checked
from spgd.reporting.images import IMAGES_SHOWN
from spgd.tuning import step_param, tuning_plan

# The config checked before any job (workflow/schemas/config.schema.yaml and what a job would
# reject, spgd/pipeline/validation.py). Words as config/README.md defines them: a sampler is a
# named configuration (a table row), its variant the algorithm, repeats the restorations per
# image; ablations add samplers.
SAMPLERS, ABLATIONS = checked(config, workflow.configfiles)
DATASETS = list(config["datasets"])
TASKS = list(config["tasks"])
# the step-size sweeps on validation images (None without a tuning section): every point is a
# sampler of its own (SAMPLER_step=FACTOR), run by ordinary sample jobs under results/tuning/
TUNING = tuning_plan(config, SAMPLERS)
TUNED = config["hyperparameters"] == "tuned"

ANGLE_TASKS = config.get("angles", {}).get("tasks", [])
ANGLE_SAMPLERS = config.get("angles", {}).get("samplers", [])

# how the tables compare samplers (reference, confidence, resamples, seed) and the published
# numbers shown beside ours (none when tables.published is not set)
COMPARISON = configuration.comparison(config)
PUBLISHED = [config["tables"]["published"]] if "published" in config["tables"] else []

# metrics: per image (PSNR, SSIM, LPIPS) and per image set (FID, KID); the hub files they need
PER_IMAGE = [m for m in config["metrics"] if m not in SET_METRICS]
PER_SET = [m for m in config["metrics"] if m in SET_METRICS]
WEIGHT_KEYS = [key for key, spec in WEIGHT_FILES.items() if set(spec.used_by) & set(config["metrics"])]

# Every result file's path template, written once: rules declare them, helpers fill them.
RESULTS = dict(
    images="results/data/{dataset}/images.pt",
    manifest="results/data/{dataset}/manifest.csv",
    measurements="results/degraded/{dataset}/{task}/measurements.pt",
    preview="results/degraded/{dataset}/{task}/preview.png",
    restored="results/samples/{dataset}/{task}/{sampler}/shard{shard}.pt",
    preflight="results/preflight/{dataset}.json",
    stats="results/samples/{dataset}/{task}/{sampler}/shard{shard}.json",
    trace="results/samples/{dataset}/{task}/{sampler}/shard{shard}.trace.csv",
    per_image="results/metrics/{dataset}/{task}.csv",
    per_set="results/set_metrics/{dataset}/{task}.csv",
    png="results/png/{dataset}/{task}",
    truth_png="results/png/{dataset}/ground_truth",
    metric_weights="results/metric_weights.json",
    inputs="results/inputs.json",
    tidy="results/tables/main.csv",
    markdown="results/tables/main.md",
    latex="results/tables/main.tex",
    ablations="results/tables/ablations.csv",
    cost="results/tables/cost.csv",
    sampling="results/tables/sampling.json",
    ablation_plot="results/figures/ablations.png",
    quality_cost_plot="results/figures/quality_cost.png",
    angle_figure="results/figures/angles_{dataset}.png",
    claims="results/tables/claims.csv",
    html_report="reports/report.html",
    # the tuning sweep: validation images, their measurements, restorations and scores per dataset
    validation_images="results/tuning/data/{dataset}/images.pt",
    validation_manifest="results/tuning/data/{dataset}/manifest.csv",
    sweep_measurements="results/tuning/degraded/{dataset}/{task}/measurements.pt",
    sweep_preview="results/tuning/degraded/{dataset}/{task}/preview.png",
    sweep_restored="results/tuning/samples/{dataset}/{task}/{sampler}/shard{shard}.pt",
    sweep_stats="results/tuning/samples/{dataset}/{task}/{sampler}/shard{shard}.json",
    sweep_trace="results/tuning/samples/{dataset}/{task}/{sampler}/shard{shard}.trace.csv",
    sweep_per_image="results/tuning/metrics/{dataset}/{task}.csv",
    selected="results/tuning/selected.yaml",
    profile="results/tuning/profile.csv",
    stability="results/tuning/stability.csv",
    stability_plot="results/figures/stability.png",
)


def result(key, **wildcards):
    return RESULTS[key].format(**wildcards)


def tasks_of(dataset):
    return configuration.dataset_tasks(config, dataset)


def operator_options(task):
    """A task's operator options: its config entry without the weights' fetch source."""
    return {key: value for key, value in config["tasks"][task].items() if key != "source"}


def traced(task, sampler):
    return task in ANGLE_TASKS and sampler in ANGLE_SAMPLERS


def angle_datasets():
    """The datasets that run a traced task: one gradient-angle figure each."""
    return [dataset for dataset in DATASETS if ANGLE_SAMPLERS and set(ANGLE_TASKS) & set(tasks_of(dataset))]


def prior_of(dataset):
    return configuration.prior_of(config, dataset)


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


def mixture_of(dataset):
    """The Gaussian mixture a mixture_samples data set draws its images from (the prior's type and
    side), None for images read or cut from files: how the prior is evaluated (network_batch)
    changes no image."""
    prior = prior_of(dataset)
    kind = config["datasets"][dataset]["kind"]  # its validation images are of the same kind (checked)
    return {key: prior[key] for key in ("type", "side") if key in prior} if kind == "mixture_samples" else None


def prior_weights(dataset):
    prior = prior_of(dataset)
    return [prior["checkpoint"]] if prior["type"] in ("adm", "edm_unet") and prior.get("checkpoint") else []


def image_folder_input(spec):
    """The image folder a dataset entry (of datasets or tuning.validation) reads, if any."""
    return [spec["path"]] if spec["kind"] == "image_folder" else []


@functools.cache  # the DAG asks once per (task, sampler, shard): list a folder once
def image_count(dataset):
    return configuration.image_count(config, dataset)


def shards(dataset):
    return list(range(math.ceil(image_count(dataset) / config["shard_size"])))


# What one job covers. Sample jobs: one sampler, or with sample_jobs: per_task every sampler of a
# (dataset, task, shard). Metrics jobs: one task, or with metrics_jobs: per_dataset every task of a
# dataset. A job's outputs are always lists (one entry per sampler or task it covers).
PER_TASK_SAMPLE_JOBS = config["sample_jobs"] == "per_task"
PER_DATASET_METRICS_JOBS = config["metrics_jobs"] == "per_dataset"
SAMPLE_LOG = ("logs/sample/{dataset}/{task}/shard{shard}.log" if PER_TASK_SAMPLE_JOBS
              else "logs/sample/{dataset}/{task}/{sampler}/shard{shard}.log")
METRICS_LOG = "logs/metrics/{dataset}.log" if PER_DATASET_METRICS_JOBS else "logs/metrics/{dataset}/{task}.log"


def job_files(key, wildcard, values):
    """``key`` files for each of ``values`` of ``wildcard`` (``["{task}"]`` keeps the wildcard)."""
    return expand(RESULTS[key], **{wildcard: values}, allow_missing=True)


def sample_outputs(key):
    return job_files(key, "sampler", list(SAMPLERS) if PER_TASK_SAMPLE_JOBS else ["{sampler}"])


def samplers_of_job(wildcards):
    return list(SAMPLERS) if PER_TASK_SAMPLE_JOBS else [wildcards.sampler]


def settings(**values):
    """What decides a job's outputs, as the rule's one param. Snakemake reruns a job when the set of
    its params' string forms changes: with several small params two of them can trade values
    (shard_size 1 -> 2 beside repeats 2) and leave the set as it was; one value always changes."""
    return values


def restoration_settings(dataset, task, samplers, traced, repeats, **more):
    """What decides a sample job's restorations: the prior, its samplers (SamplerSpec) and whether
    each is traced, the task's operator options, the repeats, and the config keys that decide the
    restorations (torch's threads as configured, whatever Snakemake grants: CPU numbers depend on
    them)."""
    return settings(prior=prior_of(dataset), samplers=samplers, traced=traced, options=operator_options(task),
                    shard_size=config["shard_size"], repeats=repeats, seed=config["seed"], threads=config["threads"],
                    device=config["device"], speed=speed_modes(), **more)


def sample_settings(wildcards):
    """A test sample job's settings; with hyperparameters: tuned, the step sizes come from the
    tuning step's selected.yaml (an input: a new choice reruns the job)."""
    names = samplers_of_job(wildcards)
    tuned = {"tuned_as": [tuned_as(name) for name in names]} if TUNED else {}
    return restoration_settings(wildcards.dataset, wildcards.task, [SAMPLERS[name] for name in names],
                                [traced(wildcards.task, name) for name in names], config["repeats"], **tuned)


def tuned_as(name):
    """The tuned sampler whose choice sampler ``name`` runs with (hyperparameters: tuned): itself,
    or an ablation point's base unless the ablation sets the step size itself (lr_scale scales the
    base's choice); None: it keeps its configured step size."""
    if name in TUNING.points:
        return SAMPLERS[name]
    for ablation, points in ABLATIONS.items():
        grid = config["ablations"][ablation]
        if name in [point for _, point in points] and grid["base"] in TUNING.points:
            return None if grid["param"] == step_param(SAMPLERS[grid["base"]].variant) else SAMPLERS[grid["base"]]
    return None


def selected_input(wildcards):
    """The sweep's choice, read by the sample jobs of a tuned dataset when hyperparameters: tuned."""
    return RESULTS["selected"] if TUNED and wildcards.dataset in TUNED_DATASETS else []


def speed_modes():
    """The speed modes of the prior's network (they change the restorations in the last bits, so a
    change reruns the sample jobs); batch_size is not among the settings: it changes no output."""
    return dict(precision=config["precision"], channels_last=config["channels_last"], compile=config["compile"])


def metrics_outputs(key):
    return job_files(key, "task", TASKS if PER_DATASET_METRICS_JOBS else ["{task}"])


def tasks_of_metrics_job(wildcards):
    return tasks_of(wildcards.dataset) if PER_DATASET_METRICS_JOBS else [wildcards.task]


def sampler_shards(key, dataset, task):
    """{sampler: the paths of its shards' ``key`` file (restored, stats, trace)} for one task."""
    return {sampler: [result(key, dataset=dataset, task=task, sampler=sampler, shard=shard) for shard in shards(dataset)]
            for sampler in SAMPLERS}


def metric_shards(wildcards):
    """{task: {sampler: its restored shard files}} for the tasks of one metrics job."""
    return {task: sampler_shards("restored", wildcards.dataset, task) for task in tasks_of_metrics_job(wildcards)}


def metric_inputs(wildcards):
    inputs = dict(images=result("images", dataset=wildcards.dataset), weights=RESULTS["metric_weights"],
                  shards=[p for samplers in metric_shards(wildcards).values() for paths in samplers.values()
                          for p in paths])
    if PER_SET:
        inputs["truth_png"] = result("truth_png", dataset=wildcards.dataset)
    return inputs


def metrics_settings(wildcards):
    """A metrics job's settings: its tasks' shards, the metrics and where their networks are, what
    each shard must hold (shard_size, repeats: checked against the files), the seed of KID's subsets
    and torch's threads as configured."""
    return settings(shards=metric_shards(wildcards), per_image=PER_IMAGE, per_set=PER_SET,
                    hub_dir=config["metric_weights"]["hub_dir"], shard_size=config["shard_size"],
                    repeats=config["repeats"], seed=config["seed"], threads=config["threads"])


def every(key):
    """Every ``key`` result of the DAG: per dataset, per (dataset, task), or per shard."""
    fields = set(RESULTS[key].replace("}", "{").split("{")[1::2])
    if "shard" in fields:
        return [p for dataset in DATASETS for task in tasks_of(dataset)
                for paths in sampler_shards(key, dataset, task).values() for p in paths]
    if "task" in fields:
        return [result(key, dataset=dataset, task=task) for dataset in DATASETS for task in tasks_of(dataset)]
    return [result(key, dataset=dataset) for dataset in DATASETS]


def angle_traces(dataset):
    """(task, sampler, trace file) of every traced shard of ``dataset``."""
    return [(task, sampler, path) for task in ANGLE_TASKS if task in tasks_of(dataset)
            for sampler in ANGLE_SAMPLERS for path in sampler_shards("trace", dataset, task)[sampler]]


def image_grid_inputs(datasets=None):
    """{"dataset / task": the files of its image grid}: ground truth, measurements, and the
    restored shards that hold the shown images; of every dataset, or of ``datasets``."""
    shown_shards = math.ceil(IMAGES_SHOWN / config["shard_size"])
    return {f"{dataset} / {task}": dict(images=result("images", dataset=dataset),
                                        measurements=result("measurements", dataset=dataset, task=task),
                                        restored={sampler: paths[:shown_shards] for sampler, paths
                                                  in sampler_shards("restored", dataset, task).items()})
            for dataset in datasets or DATASETS for task in tasks_of(dataset)}


def image_grid_shards(datasets=None):
    return [path for grid in image_grid_inputs(datasets).values() for paths in grid["restored"].values()
            for path in paths]


# ---- the tuning sweep (workflow/rules/tuning.smk) ----------------------------------------------

TUNED_DATASETS = list(TUNING.validation) if TUNING else []
SWEEP_SAMPLERS = TUNING.samplers if TUNING else {}
SWEEP_LOG = ("logs/tuning/sample/{dataset}/{task}/shard{shard}.log" if PER_TASK_SAMPLE_JOBS
             else "logs/tuning/sample/{dataset}/{task}/{sampler}/shard{shard}.log")
SWEEP_METRICS_LOG = ("logs/tuning/metrics/{dataset}.log" if PER_DATASET_METRICS_JOBS
                     else "logs/tuning/metrics/{dataset}/{task}.log")


def sweep_tasks(dataset):
    return TUNING.tasks[dataset]


@functools.cache
def sweep_shards(dataset):
    count = configuration.entry_image_count(TUNING.validation[dataset], f"tuning.validation.{dataset}")
    return list(range(math.ceil(count / config["shard_size"])))


def sweep_sample_outputs(key):
    return job_files(key, "sampler", list(SWEEP_SAMPLERS) if PER_TASK_SAMPLE_JOBS else ["{sampler}"])


def sweep_sample_settings(wildcards):
    """A sweep sample job's settings: the sweep's points as its samplers, untraced, and its repeats."""
    names = list(SWEEP_SAMPLERS) if PER_TASK_SAMPLE_JOBS else [wildcards.sampler]
    return restoration_settings(wildcards.dataset, wildcards.task, [SWEEP_SAMPLERS[name] for name in names],
                                [False] * len(names), TUNING.repeats)


def sweep_metrics_outputs(key):
    tasks = [task for task in TASKS if any(task in tuned for tuned in TUNING.tasks.values())] if TUNING else []
    return job_files(key, "task", tasks if PER_DATASET_METRICS_JOBS else ["{task}"])


def sweep_metric_shards(wildcards):
    """{task: {sweep point: its restored shard files}} for the tasks of one sweep metrics job."""
    tasks = sweep_tasks(wildcards.dataset) if PER_DATASET_METRICS_JOBS else [wildcards.task]
    return {task: {name: [result("sweep_restored", dataset=wildcards.dataset, task=task, sampler=name, shard=shard)
                          for shard in sweep_shards(wildcards.dataset)] for name in SWEEP_SAMPLERS}
            for task in tasks}


def sweep_points_table():
    """Every (dataset, task, sweep point) with its tuned sampler, its parameter, factor and step size,
    and the configured step size: what the tuning step scores and chooses from."""
    rows = []
    for dataset, tasks in TUNING.tasks.items():
        for task in tasks:
            for sampler, points in TUNING.points.items():
                configured = SAMPLERS[sampler]
                for point in points:
                    rows.append(dict(dataset=dataset, task=task, point=point.spec.name, sampler=sampler,
                                     parameter=step_param(configured.variant), factor=point.factor,
                                     step_size=point.step_size(task),
                                     configured=configured.settings(task)[step_param(configured.variant)]))
    return rows
