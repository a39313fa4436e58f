"""The compute plan: counts from the config, per-evaluation costs measured once and cached."""

import subprocess
import sys

import pytest

from spgd.pipeline import plan as plan_module
from spgd.pipeline.config import SamplerSpec
from spgd.pipeline.validation import load_config
from spgd.pipeline.plan import plan, with_totals

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
    monkeypatch.setattr(plan_module, "measure_cost", lambda *a, **k: pytest.fail("the cached cost was not used"))
    again = plan(config, cache=cache, log=lambda line: None).set_index("sampler")
    assert again.equals(table)
    totals = with_totals(table.reset_index()).iloc[-1]
    assert totals.dataset == "total" and totals.nfe_forward == table.nfe_forward.sum()
    assert plan(config, costs=False)["device_hours"].isna().all()


def test_plan_command_line(tmp_path):
    command = [sys.executable, "-m", "spgd.pipeline.plan", "--configfile", str(ROOT / "config/paper.yaml"), "--no-costs",
               "--csv", str(tmp_path / "plan.csv")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "total" in result.stdout and "spgd_no_warmup" in result.stdout
    bad = subprocess.run([*command[:-2], "--batch", "0"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "--batch must be >= 1, got 0" in bad.stderr
