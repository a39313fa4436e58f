"""A workflow config checked before any job, dry runs included.

Everything a job would reject about a configured value is rejected here, once, naming its config
path (``samplers.spgd.task_params.sr4.lr``) and what was expected. Nothing here reads a weight
file or touches the network or a GPU: the preflight job checks the device and the checkpoints
(``spgd.pipeline.steps.preflight``).

The rules (config/README.md, "Checked at start"):
- a key given twice in a config file is an error naming the key and both lines (YAML keeps the
  last one silently);
- numbers in exponent notation (``1e-3``, ``1.0e6``), which YAML 1.1 reads as strings, are read
  as floats (YAML 1.2), wherever they appear;
- types are strict: a switch takes ``true`` or ``false``, an integer option takes an integer
  (not ``true``, not ``1e3``), a number option takes a finite number;
- a name that is not accepted (a sampler parameter, a task option, an ablation parameter) is an
  error listing the accepted names, the nearest first;
- every sampler, after ablation expansion, is built for every task, and every task's operator for
  every dataset's image size, so value errors (``beta >= 1``, an even kernel, SR x4 on a size not
  divisible by 4) surface here with the sampler's or operator's own message.
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
import types
import typing
from pathlib import Path

from ..operators import OPERATORS, Operator
from ..priors import check_image_shape
from ..samplers import SAMPLERS, VARIANTS, Sampler, make_sampler
from .config import SCHEMA, SamplerSpec, adm_variants, dataset_tasks, prior_of, sampler_specs


class ConfigError(ValueError):
    """A config value that a job would reject; the message starts with its config path."""


# ---- reading ---------------------------------------------------------------------------------

# YAML 1.2 floats in exponent notation that YAML 1.1 (PyYAML) reads as strings
EXPONENT_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")
# values that are text even when they look like a number
TEXT_KEYS = {"path", "checkpoint", "weights", "sha256", "note", "hub_dir", "device"}


def read_numbers(node, key=None):
    """``node`` with every exponent-notation string read as a float, in place for mappings and lists."""
    if isinstance(node, dict):
        for name, value in node.items():
            node[name] = read_numbers(value, name)
    elif isinstance(node, list):
        node[:] = [read_numbers(value, key) for value in node]
    elif isinstance(node, str) and key not in TEXT_KEYS and EXPONENT_NUMBER.match(node.strip()):
        return float(node)
    return node


def check_unique_keys(path: str | Path) -> None:
    """Raise ConfigError if a mapping of the YAML file ``path`` has a key twice."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden
                continue
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(f"config file {path}, line {line}: key {key!r} is given twice (first on line "
                                  f"{seen[key]}); YAML would keep only the last one")
            seen[key] = line
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    read_yaml(path, UniqueKeyLoader)


def read_yaml(path: str | Path, loader=None):
    """A YAML file as data: only plain YAML types (safe loading). A tag that would build a Python
    object (``!!python/...``) is refused by name, not reported as invalid YAML."""
    import yaml

    try:
        return yaml.load(Path(path).read_text(), Loader=loader or yaml.SafeLoader)
    except yaml.constructor.ConstructorError as error:
        mark = error.problem_mark
        where = f"{path}, line {mark.line + 1}" if mark else str(path)
        if "could not determine a constructor for the tag" in str(error.problem):
            tag = str(error.problem).rsplit(" tag ", 1)[-1].strip(" '").replace("tag:yaml.org,2002:", "!!")
            raise ConfigError(f"{where}: the YAML tag {tag} is refused: a config is plain data (numbers, strings, "
                              "lists, mappings), and tags that build Python objects could run code") from None
        raise


def load_config(path: str | Path) -> dict:
    """A workflow config file as the workflow sees it: checked, schema defaults filled."""
    config = read_yaml(path)
    checked(config, [path])
    return config


def checked(config: dict, config_files=()) -> tuple[dict[str, SamplerSpec], dict]:
    """Check ``config`` (read from ``config_files``) in place: numbers read, schema defaults filled,
    every rule above applied; returns ``sampler_specs(config)``."""
    from snakemake.utils import validate

    for path in config_files:
        check_unique_keys(path)
    read_numbers(config)
    validate(config, str(SCHEMA), set_default=True)
    check_structure(config)
    check_ablation_grids(config)
    specs, ablations = sampler_specs(config)
    check_samplers(config, specs, ablations)
    check_angles(config, specs)
    check_tables(config, specs)
    check_tasks(config)
    check_tuning(config, specs)
    return specs, ablations


# ---- what a callable accepts -------------------------------------------------------------------

def accepted_options(cls: type, stop: type, skip=()) -> dict[str, object]:
    """Keyword options of ``cls`` and of its bases up to ``stop`` (whose ``**kwargs`` they pass
    on), with their type hints."""
    options = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            hints = typing.get_type_hints(init)
            for name, parameter in inspect.signature(init).parameters.items():
                if name != "self" and name not in skip and parameter.kind not in (
                        parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                    options.setdefault(name, hints.get(name))
        if klass is stop:
            break
    return options


def type_problem(value, hint) -> str | None:
    """What ``value`` should have been, if it does not match ``hint`` strictly; else None."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union else ()
    if args:
        if value is None and type(None) in args:
            return None
        hint = next(arg for arg in args if arg is not type(None))
    if hint is bool and not isinstance(value, bool):
        return "true or false"
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        return "an integer (written without a decimal point or exponent)"
    if hint is float and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
        return "a finite number"
    if hint is str and not isinstance(value, str):
        return "a string"
    return None


def unknown_name(kind: str, name, accepted) -> str:
    """"unknown KIND 'NAME'; did you mean ...? accepted: ..." with the nearest names first."""
    accepted = sorted(accepted)
    near = difflib.get_close_matches(str(name), accepted, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    return f"unknown {kind} {name!r}{hint} (accepted: {', '.join(accepted)})"


def check_settings(settings: dict, accepted: dict, kind: str, where, build) -> None:
    """Names, strict types, then values: ``build(subset)`` raises ValueError for a bad value. A
    failure with the defaults alone (the image size) or with all keys together is named by
    ``where(None)``, one with a single key by ``where(key)``."""
    for key, value in settings.items():
        if key not in accepted:
            raise ConfigError(f"config {where(key)}: {unknown_name(kind, key, accepted)}")
        expected = type_problem(value, accepted[key])
        if expected:
            raise ConfigError(f"config {where(key)}: expected {expected}, got {value!r}")
    for subset, key in [({}, None), *(({key: value}, key) for key, value in settings.items()), (settings, None)]:
        try:
            build(subset)
        except ValueError as error:
            raise ConfigError(f"config {where(key)}: {error}") from None


# ---- the checks ------------------------------------------------------------------------------

def _fail(path: str, message: str):
    raise ConfigError(f"config {path}: {message}")


def check_structure(config: dict) -> None:
    """Cross-references the schema cannot express: required keys per kind, names that must exist."""
    import torch

    tasks = list(config["tasks"])
    try:
        torch.device(config["device"])
    except RuntimeError as error:
        _fail("device", f"not a torch device ({error}); expected cpu, cuda or cuda:K")
    entries = [(f"datasets.{name}", name, dataset) for name, dataset in config["datasets"].items()]
    validation = config.get("tuning", {}).get("validation", {})
    entries += [(f"tuning.validation.{name}", name, dataset) for name, dataset in validation.items()
                if name in config["datasets"]]
    for where, name, dataset in entries:
        check_dataset_entry(config, where, name, dataset)
    for name, dataset in config["datasets"].items():
        unknown = set(dataset.get("tasks", [])) - set(tasks)
        if unknown:
            _fail(f"datasets.{name}.tasks", f"{sorted(unknown)} are not in 'tasks' (configured: {', '.join(tasks)})")
        if config["metrics_jobs"] == "per_dataset" and set(dataset.get("tasks", tasks)) != set(tasks):
            _fail(f"datasets.{name}.tasks", "metrics_jobs: per_dataset scores every task of 'tasks' in one job "
                  "per dataset; run every task on this dataset, or use metrics_jobs: per_task")
    for name, entry in config["samplers"].items():
        unknown = set(entry.get("task_params", {})) - set(tasks)
        if unknown:
            _fail(f"samplers.{name}.task_params", f"tasks {sorted(unknown)} are not in 'tasks'")
    if "nonlinear_blur" in config["tasks"] and not config["tasks"]["nonlinear_blur"].get("weights"):
        _fail("tasks.nonlinear_blur.weights", "the path of BKSE's GOPRO_wVAE.pth is required")


def check_dataset_entry(config: dict, where: str, name: str, dataset: dict) -> None:
    """One dataset entry at config path ``where`` (of ``datasets`` or ``tuning.validation``, for
    dataset ``name``, whose prior restores it): its kind's keys, its folder, its prior."""
    if dataset["kind"] == "image_folder" and "path" not in dataset:
        _fail(where, "kind image_folder needs a 'path'")
    if dataset["kind"] == "image_folder" and Path(dataset["path"]).is_dir():  # else fetched, or named missing
        check_image_folder(where, dataset)
    if dataset["kind"] in ("mixture_samples", "held_out_photos") and "count" not in dataset:
        _fail(where, f"kind {dataset['kind']} needs a 'count'")
    prior = prior_of(config, name)
    prior_where = f"datasets.{name}.prior" if "prior" in config["datasets"][name] else "prior"
    if prior["type"] == "adm" and not prior.get("checkpoint"):
        _fail(prior_where, "type adm needs a 'checkpoint' path")
    if config["compile"] and prior["type"] == "gmm_smooth":
        _fail("compile", f"true, but {prior_where} is gmm_smooth, which has no network to compile")
    if (dataset["kind"] == "mixture_samples") != (prior["type"] == "gmm_smooth"):
        _fail(f"{where}.kind", f"kind {dataset['kind']} cannot be restored by a {prior['type']} prior "
              "(mixture_samples go with a gmm_smooth prior, images with a network)")
    try:
        check_image_shape(prior, 1 if dataset["kind"] == "mixture_samples" else 3, dataset["image_size"])
    except ValueError as error:
        _fail(f"{where}.image_size", f"{dataset['image_size']} does not fit {prior_where}: {error}")


def check_image_folder(where: str, dataset: dict) -> None:
    """A folder that is there holds the images asked for: at least one from ``start`` on, and
    ``count`` of them when given (not a DAG of 0 sample jobs, nor a dataset job that fails late)."""
    from ..data import IMAGE_SUFFIXES, list_images

    found, start = len(list_images(dataset["path"])), dataset.get("start", 0)
    wanted = start + dataset.get("count", 1)
    if found < wanted:
        what = f"{dataset['count']} images from index {start}" if "count" in dataset else f"images from index {start}"
        _fail(f"{where}.path", f"folder {dataset['path']} holds {found} image files "
              f"({', '.join(sorted(IMAGE_SUFFIXES))}); asked for {what}")


def check_tuning(config: dict, specs: dict[str, SamplerSpec]) -> None:
    """The tuning section names datasets, tasks and samplers that exist, gives no validation entry a
    key that is the dataset's to decide, and every sweep point builds; ``hyperparameters: tuned``
    needs it."""
    from ..tuning.sweep import step_param, tuning_plan

    tuning = config.get("tuning")
    if not tuning:
        if config["hyperparameters"] == "tuned":
            _fail("hyperparameters", "tuned, but there is no 'tuning' section to choose the step sizes")
        return
    for name, entry in tuning["validation"].items():
        if name not in config["datasets"]:
            _fail(f"tuning.validation.{name}", unknown_name("dataset", name, config["datasets"]))
        for key in ("tasks", "prior"):
            if key in entry:
                _fail(f"tuning.validation.{name}.{key}", f"the validation images take the {key} of datasets.{name}")
    for key, known in (("tasks", config["tasks"]), ("samplers", config["samplers"])):
        for value in tuning.get(key, []):
            if value not in known:
                _fail(f"tuning.{key}", unknown_name(key[:-1], value, known))
    tuned = tuning.get("samplers", list(config["samplers"]))
    for name in tuning["values"]:
        if name not in tuned:
            _fail(f"tuning.values.{name}", f"not a tuned sampler (tuned: {', '.join(tuned)})")
    for name in tuned:
        param = step_param(specs[name].variant)
        if param not in specs[name].params:
            _fail(f"samplers.{name}.params", f"no {param} (its step size) for the tuning sweep to vary")
    plan = tuning_plan(config, specs)
    for dataset, tasks in plan.tasks.items():
        if not tasks:
            _fail("tuning.tasks", f"none of them runs on dataset {dataset}")
    taken = set(specs) & set(plan.samplers)
    if taken:
        _fail("samplers", f"{sorted(taken)} have the names of tuning sweep points; rename them")
    for points in plan.points.values():
        for point in points:
            for task in {task for tasks in plan.tasks.values() for task in tasks}:
                try:
                    point.spec.build(None, task)
                except ValueError as error:
                    _fail(f"tuning (sweep point {point.spec.name}, task {task})", str(error))


def check_angles(config: dict, specs: dict[str, SamplerSpec]) -> None:
    angles = config.get("angles", {})
    for key, known in (("tasks", config["tasks"]), ("samplers", specs)):
        unknown = set(angles.get(key, [])) - set(known)
        if unknown:
            _fail(f"angles.{key}", f"{sorted(unknown)} are not configured {key}")


def check_tables(config: dict, specs: dict[str, SamplerSpec]) -> None:
    """The reference is a sampler (ablation points included); the published-numbers file exists
    (a relative path is looked up in the working directory, then in the workflow's folder) and
    reads (``spgd.reporting.published.read_published``)."""
    from ..reporting.published import read_published

    tables = config.get("tables", {})
    if "reference" in tables and tables["reference"] not in specs:
        _fail("tables.reference", unknown_name("sampler", tables["reference"], specs))
    if "published" in tables:
        # a relative path: in the working directory, else in the workflow's folder (so the shipped
        # configs find config/published.csv whatever the working directory)
        beside_workflow = SCHEMA.parents[2] / tables["published"]
        if not Path(tables["published"]).is_file() and not Path(tables["published"]).is_absolute() \
                and beside_workflow.is_file():
            tables["published"] = str(beside_workflow)
        if not Path(tables["published"]).is_file():
            _fail("tables.published", f"file {tables['published']} does not exist (a header-only file shows no "
                                      "published rows)")
        try:
            read_published(tables["published"])
        except ValueError as error:
            _fail("tables.published", str(error))


def sampler_options(variant: str) -> dict[str, object]:
    """The parameters a variant accepts, with their type hints."""
    return accepted_options(SAMPLERS[VARIANTS[variant][0]], Sampler, skip=("prior",))


# ablation parameters that are not sampler parameters (SamplerSpec.varied), with their checks
ABLATION_PARAMS = {
    "lr_scale": ("a positive finite number", lambda v: type_problem(v, float) is None and v > 0),
    "adm": (f"one of {sorted(adm_variants())} (quote 'off')", lambda v: v in adm_variants()),
    "sample_seed": ("an integer >= 0", lambda v: type_problem(v, int) is None and v >= 0),
}


def check_ablation_grids(config: dict) -> None:
    """Each ablation's base exists, its parameter is one the base accepts, its values have the
    parameter's type (values are checked as samplers afterwards)."""
    for ablation, grid in config.get("ablations", {}).items():
        where = f"ablations.{ablation}"
        if grid["base"] not in config["samplers"]:
            _fail(f"{where}.base", unknown_name("sampler", grid["base"], config["samplers"]))
        options = sampler_options(config["samplers"][grid["base"]]["variant"])
        param = grid["param"]
        if param not in options and param not in ABLATION_PARAMS:
            _fail(f"{where}.param", unknown_name("ablation parameter", param, [*options, *ABLATION_PARAMS]))
        for index, value in enumerate(grid["values"]):
            if param in ABLATION_PARAMS:
                expected, ok = ABLATION_PARAMS[param]
                problem = None if ok(value) else expected
            else:
                problem = type_problem(value, options[param])
            if problem:
                _fail(f"{where}.values[{index}]", f"expected {problem} for {param}, got {value!r}")


def check_samplers(config: dict, specs: dict[str, SamplerSpec], ablations: dict) -> None:
    """Every sampler (ablation points included) built for every task."""
    origin = {}  # ablation point -> (ablation, index, the parameter it varies)
    for ablation, points in ablations.items():
        param = config["ablations"][ablation]["param"]
        for index, (_, name) in enumerate(points):
            origin[name] = (ablation, index, "lr" if param == "lr_scale" else param)
    for name, spec in specs.items():
        options = sampler_options(spec.variant)
        base = name if name not in origin else config["ablations"][origin[name][0]]["base"]
        for task in config["tasks"]:
            settings = spec.settings(task)

            def where(key, task=task, spec=spec, base=base, name=name):
                if name in origin and key == origin[name][2]:
                    ablation, index, _ = origin[name]
                    return f"ablations.{ablation}.values[{index}] (sampler {name})"
                if key is None:
                    return f"samplers.{base} (variant {spec.variant}, task {task})"
                if key in spec.task_params.get(task, {}):
                    return f"samplers.{base}.task_params.{task}.{key}"
                return f"samplers.{base}.params.{key}"

            check_settings(settings, options, f"parameter of variant {spec.variant}", where,
                           lambda subset, variant=spec.variant: make_sampler(variant, None, **subset))


def operator_options(task: str) -> dict[str, object]:
    """The options a task accepts in config, with their type hints (channels come from the data)."""
    return accepted_options(OPERATORS[task], Operator, skip=("image_size", "image_ids", "seed", "channels",
                                                               "load_network"))


def check_tasks(config: dict) -> None:
    """Every task's operator built at every image size it runs at, without loading networks."""
    for name, dataset in config["datasets"].items():
        channels = 1 if dataset["kind"] == "mixture_samples" else 3
        for task in dataset_tasks(config, name):
            options = {k: v for k, v in config["tasks"][task].items() if k != "source"}
            cls = OPERATORS[task]
            offline = {"load_network": False} if "load_network" in inspect.signature(cls.__init__).parameters else {}

            def where(key, task=task, name=name):
                if key is None:
                    return f"tasks.{task} (on dataset {name}, image_size {dataset['image_size']})"
                return f"tasks.{task}.{key}"

            check_settings(options, operator_options(task), f"option of task {task}", where,
                           lambda subset, cls=cls: cls(dataset["image_size"], [0], config["seed"], channels=channels,
                                                       **offline, **subset))
