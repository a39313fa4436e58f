"""Bad configs are stopped before any job, dry runs included, by a message that names the config
path and what was expected (spgd.pipeline.validation); values YAML 1.1 misreads are read as
written."""

import copy
import re
import json
import math
import subprocess
import sys

import pytest
import yaml

from spgd.pipeline.validation import ConfigError, checked, check_unique_keys, read_numbers

from test_workflow import ROOT, TINY, snakemake

BASE = yaml.safe_load(TINY.read_text())


def setting(*path_and_value):
    """A change of the tiny config: set path (keys) to value."""
    *path, value = path_and_value

    def change(config):
        node = config
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return change


def removing(*path):
    def change(config):
        node = config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return change


def both(*changes):
    def change(config):
        for one in changes:
            one(config)
    return change


SPGD, DPS = ("samplers", "spgd", "params"), ("samplers", "dps", "params")
ON_18_PX = both(setting("prior", "side", 18), setting("datasets", "synthetic", "image_size", 18))

# (id, change of the tiny config, the config path the message must name, what it must say)
BAD = [
    # sampler parameters: names, strict types, values
    ("misspelt parameter", setting(*SPGD, "stpes", 4), "samplers.spgd.params.stpes", "did you mean 'steps'"),
    ("misspelt task parameter", setting("samplers", "dps", "task_params", "gaussian_blur", "zeeta", 1.0),
     "samplers.dps.task_params.gaussian_blur.zeeta", "did you mean 'zeta'"),
    ("negative lr", setting(*SPGD, "lr", -1.0), "samplers.spgd.params.lr", "positive finite number"),
    ("NaN lr", setting(*SPGD, "lr", math.nan), "samplers.spgd.params.lr", "a finite number"),
    ("lr as text", setting(*SPGD, "lr", "fast"), "samplers.spgd.params.lr", "a finite number"),
    ("beta of 1", setting(*SPGD, "beta", 1.0), "samplers.spgd.params.beta", "beta must be in [0, 1)"),
    ("negative zeta", setting(*DPS, "zeta", -0.5), "samplers.dps.params.zeta", "zeta must be a finite number >= 0"),
    ("negative task zeta", setting("samplers", "dps", "task_params", "gaussian_blur", "zeta", -1.0),
     "samplers.dps.task_params.gaussian_blur.zeta", ">= 0"),
    ("steps true", setting(*SPGD, "steps", True), "samplers.spgd.params.steps", "an integer"),
    ("steps 2.5", setting(*SPGD, "steps", 2.5), "samplers.spgd.params.steps", "an integer"),
    ("steps 1e3", setting(*SPGD, "steps", "1e3"), "samplers.spgd.params.steps", "without a decimal point or exponent"),
    ("zero steps", setting(*SPGD, "steps", 0), "samplers.spgd.params.steps", ">= 1"),
    ("warm-up as text", setting(*SPGD, "warmup", "3"), "samplers.spgd.params.warmup", "an integer"),
    ("recompute_x0 'no'", setting(*SPGD, "recompute_x0", "no"), "samplers.spgd.params.recompute_x0", "true or false"),
    ("adm against the variant", setting(*SPGD, "adm", "applied"), "samplers.spgd.params.adm", "fixes ['adm']"),
    ("sigma_min above sigma_max", setting(*SPGD, "sigma_min", 200.0), "samplers.spgd.params.sigma_min",
     "sigma_max must be greater than sigma_min"),
    ("negative lr_min_ratio", setting(*SPGD, "lr_min_ratio", -0.1), "samplers.spgd.params.lr_min_ratio", ">= 0"),
    ("DPS beyond 1000 steps", setting(*DPS, "steps", 2000), "samplers.dps.params.steps", "in [1, 1000]"),
    ("DAPS without Langevin steps", setting("samplers", "daps", {"variant": "daps", "params": {"langevin_steps": 0}}),
     "samplers.daps.params.langevin_steps", ">= 1"),
    ("DAPS tau 0", setting("samplers", "daps", {"variant": "daps", "params": {"tau": 0.0}}),
     "samplers.daps.params.tau", "positive"),
    ("unknown variant", setting("samplers", "spgd", "variant", "spgdd"), "['samplers']['spgd']['variant']",
     "'spgdd' is not one of"),
    ("task_params of a task not configured", setting("samplers", "dps", "task_params", "sr4", {"zeta": 1.0}),
     "samplers.dps.task_params", "['sr4'] are not in 'tasks'"),
    # ablations
    ("ablation over a misspelt parameter", setting("ablations", "warmup", "param", "wramup"), "ablations.warmup.param",
     "did you mean 'warmup'"),
    ("ablation of a misspelt sampler", setting("ablations", "warmup", "base", "spdg"), "ablations.warmup.base",
     "did you mean 'spgd'"),
    ("ablation value 0 warm-up steps", setting("ablations", "warmup", "values", [1, 0]), "ablations.warmup.values[1]",
     ">= 1"),
    ("ablation value true", setting("ablations", "warmup", "values", [1, True]), "ablations.warmup.values[1]",
     "an integer"),
    ("negative lr scale", setting("ablations", "lr", {"base": "spgd", "param": "lr_scale", "values": [-1.0]}),
     "ablations.lr.values[0]", "positive finite number"),
    ("bare off as ADM mode", setting("ablations", "adm", {"base": "spgd", "param": "adm", "values": [False]}),
     "ablations.adm.values[0]", "quote 'off'"),
    ("negative sample seed", setting("ablations", "s", {"base": "spgd", "param": "sample_seed", "values": [-1]}),
     "ablations.s.values[0]", "an integer >= 0"),
    ("lr scale of a sampler without lr", setting("ablations", "lr", {"base": "dps", "param": "lr_scale", "values": [2.0]}),
     "ablations.lr", "lr_scale needs 'lr'"),
    ("beta ablation beyond 1", setting("ablations", "b", {"base": "spgd", "param": "beta", "values": [0.5, 1.5]}),
     "ablations.b.values[1]", "beta must be in [0, 1)"),
    ("sampler named like an ablation point", setting("samplers", "spgd_warmup=1", {"variant": "dps"}),
     "ablations.warmup", "has the name of another sampler"),
    ("metrics per dataset with a task left out",
     lambda config: [change(config) for change in (setting("metrics_jobs", "per_dataset"),
                                                   setting("datasets", "synthetic", "tasks", ["gaussian_blur"]))],
     "datasets.synthetic.tasks", "metrics_jobs: per_dataset scores every task"),
    # task options
    ("misspelt task option", setting("tasks", "gaussian_blur", "kernal_size", 5), "tasks.gaussian_blur.kernal_size",
     "did you mean 'kernel_size'"),
    ("even kernel", setting("tasks", "gaussian_blur", "kernel_size", 4), "tasks.gaussian_blur.kernel_size", "odd"),
    ("kernel larger than the image", setting("tasks", "gaussian_blur", "kernel_size", 41),
     "tasks.gaussian_blur.kernel_size", "less than twice the image size 16"),
    ("negative blur std", setting("tasks", "gaussian_blur", "std", -1.0), "tasks.gaussian_blur.std", "positive"),
    ("negative noise", setting("tasks", "random_inpainting", "noise_sigma", -0.1),
     "tasks.random_inpainting.noise_sigma", ">= 0"),
    ("noise as quoted text", setting("tasks", "random_inpainting", "noise_sigma", "0.05"),
     "tasks.random_inpainting.noise_sigma", "a finite number"),
    ("dropping every pixel", setting("tasks", "random_inpainting", "drop", 1.0), "tasks.random_inpainting.drop",
     "in [0, 1)"),
    ("shared 'yes'", setting("tasks", "random_inpainting", "shared", "yes"), "tasks.random_inpainting.shared",
     "true or false"),
    ("SR x4 on 18 px", both(ON_18_PX, setting("tasks", "sr4", {})), "tasks.sr4 (on dataset synthetic, image_size 18)",
     "not divisible by the factor 4"),
    ("nonlinear blur on 16 px", setting("tasks", "nonlinear_blur", {"weights": "GOPRO_wVAE.pth"}),
     "tasks.nonlinear_blur (on dataset synthetic, image_size 16)", "multiple of 128"),
    ("nonlinear blur without weights", setting("tasks", "nonlinear_blur", {}), "tasks.nonlinear_blur.weights",
     "GOPRO_wVAE.pth is required"),
    ("motion blur intensity 0", setting("tasks", "motion_blur", {"intensity": 0.0}), "tasks.motion_blur.intensity",
     "in (0, 1]"),
    ("HDR scale 0", setting("tasks", "hdr", {"scale": 0}), "tasks.hdr.scale", "positive"),
    ("negative oversampling", setting("tasks", "phase_retrieval", {"oversample": -1.0}),
     "tasks.phase_retrieval.oversample", ">= 0"),
    ("unknown task", setting("tasks", "deblur", {}), "['tasks']", "'deblur' is not one of"),
    # datasets, priors, device, other keys
    ("ADM prior without a checkpoint", setting("prior", {"type": "adm", "architecture": "ffhq"}), "config prior",
     "type adm needs a 'checkpoint' path"),
    ("prior of another size", setting("datasets", "synthetic", "image_size", 20), "datasets.synthetic.image_size",
     "1 x 16 x 16"),
    ("mixture data with a network prior", setting("prior", {"type": "edm_unet"}), "datasets.synthetic.kind",
     "cannot be restored by a edm_unet prior"),
    ("dataset task not configured", setting("datasets", "synthetic", "tasks", ["sr4"]), "datasets.synthetic.tasks",
     "['sr4'] are not in 'tasks'"),
    ("mixture data without a count", removing("datasets", "synthetic", "count"), "datasets.synthetic",
     "needs a 'count'"),
    ("device that is no device", setting("device", "cuda:x"), "config device", "not a torch device"),
    # a sha256 as pasted with its newline or a space: refused by the schema, not after a download
    ("sha256 with a final newline", setting("prior", "sha256", "ab" * 32 + "\n"), "['prior']['sha256']", "is too long"),
    ("sha256 with a leading space", setting("tasks", "gaussian_blur", "sha256", " " + "AB" * 32),
     "['tasks']['gaussian_blur']['sha256']", "does not match"),
    ("angle of a sampler not configured", setting("angles", "samplers", ["spgd", "sgpd"]), "angles.samplers",
     "['sgpd'] are not configured samplers"),
    ("repeats true", setting("repeats", True), "['repeats']", "True is not of type 'integer'"),
    ("negative seed", setting("seed", -1), "['seed']", "-1 is less than the minimum of 0"),
    ("misspelt metric", setting("metrics", ["psnr", "psnrr"]), "['metrics']", "'psnrr' is not one of"),
    # result tables
    ("reference not a sampler", setting("tables", "reference", "sgpd"), "tables.reference",
     "unknown sampler 'sgpd'; did you mean 'spgd'?"),
    ("confidence of 1", setting("tables", "confidence", 1), "confidence", "1 is greater than or equal to the maximum"),
    ("published file missing", setting("tables", "published", "no/such.csv"), "tables.published",
     "file no/such.csv does not exist"),
    ("published file with a bad metric", setting("tables", "published", str(ROOT / "tests/data/published_bad.csv")),
     "tables.published", "published_bad.csv, line 3: metric 'fidd' is not one of"),
]

DUPLICATES = [  # (id, (a line of the tiny config, the text put after it), the message)
    ("sampler given twice", ("samplers:\n", "  spgd: {variant: dps}\n"), "key 'spgd' is given twice"),
    ("top-level key given twice", ("angles:", "seed: 2\n"), "key 'seed' is given twice (first on line 3)"),
]


def bad_config(change) -> dict:
    config = copy.deepcopy(BASE)
    change(config)
    return config


@pytest.mark.parametrize("change, path, expected", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_value_is_named_with_its_path(change, path, expected):
    with pytest.raises(Exception) as caught:
        checked(bad_config(change))
    assert path in str(caught.value) and expected in str(caught.value), str(caught.value)


def duplicated(tmp_path, name, insertion):
    after, text = insertion
    lines = TINY.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(after))
    path = tmp_path / f"{name.replace(' ', '_')}.yaml"
    path.write_text("".join(lines[:index + 1]) + text + "".join(lines[index + 1:]))
    return path


@pytest.mark.parametrize("insertion, expected", [case[1:] for case in DUPLICATES], ids=[case[0] for case in DUPLICATES])
def test_a_key_given_twice_is_named_with_its_line(tmp_path, insertion, expected):
    with pytest.raises(ConfigError, match=r"line \d+: " + expected.replace("(", r"\(").replace(")", r"\)")):
        check_unique_keys(duplicated(tmp_path, "config", insertion))


def test_every_bad_config_stops_the_dry_run_before_any_job(tmp_path):
    """Each bad config through the workflow itself (Snakemake's API, one process): the dry run
    fails with the message, and nothing is written under results/."""
    files = {}
    for name, change, path, expected in BAD:
        files[name] = tmp_path / f"{len(files)}.yaml"
        files[name].write_text(yaml.safe_dump(bad_config(change)))
    for name, insertion, _ in DUPLICATES:
        files[name] = duplicated(tmp_path, name, insertion)
    files["the tiny config"] = TINY
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "dry_runs.py"), str(tmp_path / "work"),
                             *map(str, files.values())], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    expected = {case[0]: case[2:] for case in BAD} | {case[0]: ("line", case[2]) for case in DUPLICATES}
    for name, (path, message) in expected.items():
        error = errors[str(files[name])]
        assert error is not None and path in error and message in error, (name, error)
    assert errors[str(TINY)] is None
    assert not (tmp_path / "work" / "results").exists()


def test_the_command_line_dry_run_names_the_key(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump(bad_config(setting(*SPGD, "stpes", 4))))
    result = snakemake(tmp_path, "-n", configfile=config)
    assert result.returncode != 0
    assert "config samplers.spgd.params.stpes: unknown parameter of variant spgd 'stpes'; did you mean 'steps'?" in (
        result.stdout + result.stderr)


def test_exponent_notation_is_a_number():
    config = bad_config(both(setting(*SPGD, "lr", "1e-3"), setting(*DPS, "zeta", "1.0E+0"),
                             setting("ablations", "b", {"base": "spgd", "param": "beta", "values": ["5e-1"]})))
    specs, _ = checked(config)
    assert specs["spgd"].params["lr"] == 0.001 and specs["dps"].params["zeta"] == 1.0
    assert specs["spgd_beta=0.5"].params["beta"] == 0.5
    # text that only looks like a number stays text where text is expected
    assert read_numbers({"path": "1e5", "note": "2e3", "lr": "2e3"}) == {"path": "1e5", "note": "2e3", "lr": 2000.0}


@pytest.mark.parametrize("files, options, expected", [
    (0, {}, "holds 0 image files"),
    (2, {"start": 2}, "holds 2 image files (.bmp, .jpeg, .jpg, .png, .tif, .tiff, .webp); asked for images from index 2"),
    (2, {"start": 1, "count": 2}, "holds 2 image files"),
], ids=["empty folder", "start past the end", "count past the end"])
def test_an_image_folder_without_the_images_asked_for_is_refused_at_config_check(tmp_path, files, options, expected):
    """Before: planned as 0 sample jobs (empty folder, start past its end), or failed in the dataset job."""
    from PIL import Image

    for i in range(files):
        Image.new("RGB", (16, 16)).save(tmp_path / f"{i}.png")
    config = bad_config(both(setting("prior", {"type": "edm_unet"}),
                             setting("datasets", {"faces": {"kind": "image_folder", "path": str(tmp_path),
                                                            "image_size": 32, **options}})))
    with pytest.raises(ConfigError, match=r"datasets.faces.path: folder .* " + re.escape(expected)):
        checked(config)


def test_a_python_yaml_tag_is_refused_as_a_tag(tmp_path):
    from spgd.pipeline.validation import load_config

    path = tmp_path / "tagged.yaml"
    path.write_text("seed: 1\nprior: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match=r"tagged.yaml, line 2: the YAML tag !!python/object/apply:os.system is "
                                          "refused: a config is plain data"):
        load_config(path)
    with pytest.raises(ConfigError, match="is refused"):
        check_unique_keys(path)
