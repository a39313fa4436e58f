"""The paper path end to end (config/test/paper_smoke.yaml): both guided-diffusion architectures,
all eight tasks, every sampler configuration and metric, through the real workflow. The test
writes the inputs: photos as the image folders and randomly initialised checkpoints in the real
key formats (never shipped; the report labels the run a smoke test with random weights)."""

import json
import time

import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from spgd.checkpoints import sha256_of
from spgd.costs import EvaluationCost
from spgd.metrics import METRICS
from spgd.operators import KernelWizard
from spgd.pipeline.config import sampler_specs
from spgd.pipeline.validation import load_config
from spgd.priors.adm import DEEPINV_BUFFERS, build_unet

from test_workflow import ROOT, snakemake

SMOKE = ROOT / "config" / "test" / "paper_smoke.yaml"


def random_checkpoint(module: torch.nn.Module, path, drop=()):
    """Save ``module``'s state dict with its zero-initialised tensors (the UNet's output layers)
    drawn at random too, so that the network's output depends on its input."""
    state = {}
    for key, value in module.state_dict().items():
        if key in drop:
            continue
        if value.is_floating_point() and not value.any():
            value = torch.randn_like(value) * 0.02
        state[key] = value
    torch.save(state, path)


def write_inputs(workdir):
    from skimage import data

    torch.manual_seed(0)
    smoke = workdir / "smoke"
    for folder, photos in (("ffhq", ("astronaut", "coffee")), ("imagenet", ("chelsea", "rocket"))):
        (smoke / folder).mkdir(parents=True)
        for name in photos:
            Image.fromarray(getattr(data, name)()).save(smoke / folder / f"{name}.png")
    random_checkpoint(build_unet("ffhq"), smoke / "ffhq_10m.pt", drop=DEEPINV_BUFFERS)
    random_checkpoint(build_unet("imagenet"), smoke / "256x256_diffusion_uncond.pt", drop=DEEPINV_BUFFERS)
    random_checkpoint(KernelWizard(), smoke / "GOPRO_wVAE.pth")


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("paper_smoke")
    write_inputs(workdir)
    start = time.perf_counter()
    result = snakemake(workdir, configfile=SMOKE, timeout=1200)  # two jobs at once: the config's threads: 1
    print(f"paper smoke run: {time.perf_counter() - start:.0f} s")
    assert result.returncode == 0, result.stderr[-5000:]
    return workdir


def test_every_dataset_task_sampler_metric_cell_is_in_the_tables(smoke_run):
    config = yaml.safe_load(SMOKE.read_text())
    tidy = pd.read_csv(smoke_run / "results/tables/main.csv")
    expected = {(dataset, task, sampler, metric) for dataset, spec in config["datasets"].items()
                for task in spec["tasks"] for sampler in config["samplers"] for metric in config["metrics"]}
    assert set(config["metrics"]) == set(METRICS)
    assert {task for spec in config["datasets"].values() for task in spec["tasks"]} == set(config["tasks"])
    assert set(zip(tidy.dataset, tidy.task, tidy.sampler, tidy.metric)) == expected and len(tidy) == len(expected)
    markdown = (smoke_run / "results/tables/main.md").read_text()
    assert all(f"### {dataset}" in markdown for dataset in config["datasets"])


def test_nfe_equal_what_the_config_implies(smoke_run):
    config = load_config(SMOKE)
    for dataset, spec in config["datasets"].items():
        for task in spec["tasks"]:
            for name, sampler in sampler_specs(config)[0].items():
                stats = json.loads((smoke_run / f"results/samples/{dataset}/{task}/{name}/shard0.json").read_text())
                assert (stats["nfe_forward"], stats["nfe_backward"]) == sampler.planned_nfe(task)
                assert (stats["sampler"], stats["variant"]) == (name, sampler.variant)
    spgd = json.loads((smoke_run / "results/samples/ffhq/sr4/spgd/shard0.json").read_text())
    assert (spgd["nfe_forward"], spgd["nfe_backward"]) == (2 * 2, 2 * 2)


def test_report_names_both_checkpoints_with_their_sha256_and_says_they_are_random(smoke_run):
    report = (smoke_run / "reports/report.html").read_text()
    assert "randomly initialised weights" in report and "Paper settings" not in report
    for name in ("ffhq_10m.pt", "256x256_diffusion_uncond.pt", "GOPRO_wVAE.pth"):
        assert f"smoke/{name}" in report and sha256_of(smoke_run / "smoke" / name) in report
    inputs = {r["key"]: r for r in json.loads((smoke_run / "results/inputs.json").read_text())}
    assert inputs["datasets.imagenet.prior.checkpoint"]["source"] == "placed by hand"
    assert inputs["datasets.ffhq.path"]["images"] == 2
    assert "Gradient angles: ffhq" in report


def test_the_plan_counts_what_the_samplers_counted(smoke_run, monkeypatch):
    from spgd.pipeline import plan as plan_module

    # the counts only: the FLOP model is checked in tests/test_costs.py, and tracing the three networks here
    # would cost 10 s; every FLOP column is then 0
    monkeypatch.setattr(plan_module, "prior_cost", lambda spec, shape: EvaluationCost(shape, 1, *[0] * 7))
    config = load_config(SMOKE)
    table = plan_module.plan(config, costs=False).set_index(["dataset", "sampler"])
    for dataset, spec in config["datasets"].items():
        for name in config["samplers"]:
            counted = [0, 0, 0, 0]
            for task in spec["tasks"]:
                for path in (smoke_run / f"results/samples/{dataset}/{task}/{name}").glob("shard*.json"):
                    stats = json.loads(path.read_text())
                    images = len(stats["images"]) * stats["repeats"]
                    counted = [counted[0] + 1, counted[1] + images, counted[2] + stats["nfe_forward"] * images,
                               counted[3] + stats["nfe_backward"] * images]
            row = table.loc[(dataset, name)]
            assert [row.jobs, row.restorations, row.nfe_forward, row.nfe_backward] == counted, (dataset, name)
