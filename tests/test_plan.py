"""The compute plan: counts from the config, per-evaluation costs measured once and cached."""

import subprocess
import sys

import pandas as pd
import pytest

from spgd.pipeline import plan as plan_module
from spgd.pipeline.config import SamplerSpec
from spgd.pipeline.validation import load_config
from spgd.costs import GIB, MARGIN, prior_cost
from spgd.pipeline.config import prior_of
from spgd.pipeline.plan import CUDA_CONTEXT_BYTES, image_shape, memory_plan, plan, with_totals

from test_workflow import ROOT, TINY


def planned_nfe(variant, params):
    return SamplerSpec("s", variant, params).planned_nfe("sr4")


def test_planned_nfe_of_the_paper_settings():
    assert planned_nfe("spgd", {"steps": 100, "warmup": 5}) == (500, 500)
    assert planned_nfe("spgd_no_warmup", {"steps": 100}) == (100, 100)
    assert planned_nfe("spgd", {"steps": 100, "warmup": 5, "recompute_x0": True}) == (600, 500)
    assert planned_nfe("dps", {"steps": 1000}) == (1000, 1000)
    assert planned_nfe("daps", {"steps": 200, "ode_steps": 5}) == (1000, 0)


def test_plan_of_the_tiny_config_with_a_cached_cost(tmp_path, monkeypatch):
    config = load_config(TINY)  # 2 images, shard_size 1, 2 tasks; ablation adds spgd_warmup=1 and =3
    cache = tmp_path / "costs.json"
    table = plan(config, cache=cache, log=lambda line: None).set_index("sampler")
    assert list(table.index) == ["spgd", "dps", "spgd_warmup=1", "spgd_warmup=3"]
    assert table.loc["spgd", "jobs"] == 2 * 2 and table.loc["spgd", "restorations"] == 2 * 2
    assert table.loc["spgd", "nfe_forward"] == 2 * 2 * 8 * 2 and table.loc["dps", "nfe_backward"] == 2 * 2 * 10
    assert table.loc["spgd", "device_hours"] > 0 and cache.is_file()
    assert table.loc["spgd", "floor_hours"] == pytest.approx(table.loc["spgd", "tflop"] / 989 / 3600)
    monkeypatch.setattr(plan_module, "measure_cost", lambda *a, **k: pytest.fail("the cached cost was not used"))
    again = plan(config, cache=cache, log=lambda line: None).set_index("sampler")
    assert again.equals(table)
    totals = with_totals(table.reset_index()).iloc[-1]
    assert totals.dataset == "total" and totals.nfe_forward == table.nfe_forward.sum()
    assert plan(config, costs=False)["device_hours"].isna().all()


def test_paper_batches_fit_the_gpu():
    """config/paper.yaml (device cuda, no batch_size): the batch auto takes on an 80 GiB GPU fits it."""
    config = load_config(ROOT / "config/paper.yaml")
    assert config["batch_size"] == "auto" and config["device"] == "cuda"
    memory = memory_plan(config, [24, 80]).set_index("dataset")
    for dataset, row in memory.iterrows():
        cost = prior_cost(prior_of(config, dataset), image_shape(config, dataset))
        for gib in (24, 80):
            batch = row[f"batch_{gib}gib"]
            assert batch == 0 or cost.peak_bytes(batch) * (1 + MARGIN) + CUDA_CONTEXT_BYTES <= gib * GIB
    # the counts of spgd.costs at 256 px (tests/test_costs.py): 1.65 and 4.9 GiB per image, weights 0.35 and
    # 2.06 GiB, blocks of 4: ImageNet's block of 4 (21.7 GiB) does not fit 24 GiB with the margin
    assert list(memory["batch_80gib"]) == [40, 12] and list(memory["batch_24gib"]) == [12, 0]


def test_plan_command_line(tmp_path, capsys):
    """In this process (the counts at 256 px are cached by the test above; a second interpreter would
    count them again), plus the module's entry point in one of its own."""
    arguments = ["--configfile", str(ROOT / "config/paper.yaml"), "--gpu-memory", "80"]
    plan_module.main([*arguments, "--csv", str(tmp_path / "plan.csv")])
    out = capsys.readouterr().out
    assert "total" in out and "spgd_no_warmup" in out and "batch_80gib" in out
    assert "device 'cuda' is not here: no device-hours measured" in out  # this machine has no GPU
    assert pd.read_csv(tmp_path / "plan.csv")["device_hours"].isna().all()
    for bad, message in ((["--batch", "0"], "--batch must be >= 1, got 0"),
                         (["--gpu-memory", "-1"], "--gpu-memory must be > 0, got -1")):
        with pytest.raises(SystemExit) as stopped:
            plan_module.main([*arguments[:2], *bad])
        assert stopped.value.code != 0 and message in capsys.readouterr().err
    result = subprocess.run([sys.executable, "-m", "spgd.pipeline.plan", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "--gpu-memory GIB" in result.stdout, result.stderr
