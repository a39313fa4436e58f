"""A changed config reruns exactly the jobs whose outputs it changes, on an existing results folder,
and the tables then equal those of a run from scratch; a shard written under other settings is
refused by the metrics and tables steps, naming the file and what it holds."""

import copy
import re

import pytest
import yaml

from spgd.pipeline.files import StaleShardError, check_shard_records, check_shards
from test_workflow import job_counts, planned_jobs, snakemake

# three images, so that shard_size 2 leaves a short last shard; two tasks and two samplers, so that
# a task option or a sampler parameter touches part of the grid; per-image metrics only (no networks)
BASE = dict(settings="demo", seed=1, device="cpu", shard_size=1, repeats=1, threads=2,
            prior={"type": "gmm_smooth", "side": 16},
            datasets={"synthetic": {"kind": "mixture_samples", "count": 3, "image_size": 16}},
            tasks={"random_inpainting": {}, "gaussian_blur": {"kernel_size": 5, "std": 1.0}},
            samplers={"spgd": {"variant": "spgd", "params": {"steps": 6, "warmup": 2, "lr": 1.0}},
                      "dps": {"variant": "dps", "params": {"steps": 8, "zeta": 0.5}}},
            metrics=["psnr", "ssim"])
TASKS, SAMPLERS = list(BASE["tasks"]), list(BASE["samplers"])


def configfile(folder, name, **changes):
    config = copy.deepcopy(BASE)
    for key, value in changes.items():  # "a.b.c" sets a nested key
        *parents, last = key.split(".")
        node = config
        for parent in parents:
            node = node[parent]
        node[last] = value
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def restored_files(tasks, samplers, shards):
    return {f"results/samples/synthetic/{task}/{sampler}/shard{shard}.pt" for task in tasks for sampler in samplers
            for shard in shards}


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("base")
    result = snakemake(workdir, configfile=configfile(workdir, "base"))
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


# (change, the sample shards it reruns as (tasks, samplers, shards), the other jobs it reruns)
CHANGES = {
    "shard_size": ({"shard_size": 2}, (TASKS, SAMPLERS, [0, 1]), {"metrics": 2}),
    "repeats": ({"repeats": 2}, (TASKS, SAMPLERS, [0, 1, 2]), {"metrics": 2}),
    "seed": ({"seed": 2}, (TASKS, SAMPLERS, [0, 1, 2]), {"dataset": 1, "degrade": 2, "metrics": 2}),
    "sampler parameter": ({"samplers.dps.params.zeta": 0.4}, (TASKS, ["dps"], [0, 1, 2]), {"metrics": 2}),
    "task option": ({"tasks.gaussian_blur.std": 1.5}, (["gaussian_blur"], SAMPLERS, [0, 1, 2]),
                    {"degrade": 1, "metrics": 1}),
    "threads": ({"threads": 1}, (TASKS, SAMPLERS, [0, 1, 2]), {"metrics": 2}),
    "speed mode": ({"precision": "bf16"}, (TASKS, SAMPLERS, [0, 1, 2]), {"metrics": 2}),
    "network batch": ({"prior.network_batch": 2}, (TASKS, SAMPLERS, [0, 1, 2]), {"preflight": 1, "metrics": 2}),
}


def test_batch_size_reruns_nothing(base_run, tmp_path):
    """batch_size changes no restoration (tests/test_batching.py), so it is no setting of a job that
    computes one; the report, which prints the config, is written again."""
    dry = snakemake(base_run, "-n", configfile=configfile(tmp_path, "changed", batch_size=1))
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert job_counts(dry.stdout + dry.stderr) == {"report_html": 1, "all": 1}


@pytest.mark.parametrize("name", list(CHANGES))
def test_a_changed_setting_reruns_exactly_the_jobs_it_affects(base_run, name, tmp_path):
    changes, (tasks, samplers, shards), others = CHANGES[name]
    changed = configfile(tmp_path, "changed", **changes)
    dry = snakemake(base_run, "-n", configfile=changed)
    assert dry.returncode == 0, dry.stderr[-3000:]
    expected = {"sample": len(tasks) * len(samplers) * len(shards), **others, "tables": 1, "claims": 1, "report_html": 1,
                "all": 1}
    assert job_counts(dry.stdout + dry.stderr) == expected
    # Snakemake's own account, job by job: exactly these shards, each for changed params or for an input
    # that a rerun job rewrites (a new seed or task option changes the measurements first)
    planned = {job["output"]: job["reason"] for job in planned_jobs(dry.stdout + dry.stderr) if job["rule"] == "sample"}
    assert set(planned) == restored_files(tasks, samplers, shards)
    assert all(reason.startswith(("Params have changed", "Input files updated by another job"))
               for reason in planned.values()), planned


def test_reruns_after_shard_size_and_repeats_changes_equal_runs_from_scratch(base_run, tmp_path_factory):
    """The two reproductions of the stale-shard bug: shard_size 1 -> 2 (the metrics kept 2 of the 3
    images, silently), then repeats 1 -> 2 (only the report reran). Results do not depend on the
    shard size (test_workflow.py), so the base run is the from-scratch run of the first change."""
    tables = lambda workdir: {name: (workdir / "results/tables" / name).read_bytes()
                              for name in ("main.csv", "main.md", "ablations.csv")}
    from_scratch = tables(base_run)
    rerun = snakemake(base_run, configfile=configfile(base_run, "shard_size", shard_size=2))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert tables(base_run) == from_scratch
    changes = dict(shard_size=2, repeats=2)
    rerun = snakemake(base_run, configfile=configfile(base_run, "repeats", **changes))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    fresh_dir = tmp_path_factory.mktemp("fresh")
    fresh = snakemake(fresh_dir, configfile=configfile(fresh_dir, "repeats", **changes))
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert tables(base_run) == tables(fresh_dir)
    main = (base_run / "results/tables/main.csv").read_text()
    assert re.search(r"synthetic,gaussian_blur,dps,psnr,[^,]+,[^,]+,3,2,6,", main)  # n=3 images x 2 repeats


def test_a_stale_shard_is_refused_by_the_metrics_naming_the_file(base_run):
    """Rerun triggers left to file times only (as an older workflow would): the metrics job meets
    shard files written for shard_size 2 and refuses them."""
    result = snakemake(base_run, "--rerun-triggers", "mtime", "--forcerun", "metrics",
                       configfile=configfile(base_run, "stale", shard_size=1, repeats=2))
    assert result.returncode != 0
    log = "".join(path.read_text() for path in (base_run / "logs/metrics").rglob("*.log"))
    assert re.search(r"results/samples/synthetic/\w+/\w+/shard0.pt holds images synthetic_000, synthetic_001 x 2 "
                     r"repeats, where the config asks for images synthetic_000 x 2 repeats", log), log[-2000:]


def test_check_shards_names_the_file_and_what_it_holds():
    ids = ["a", "b", "c"]
    check_shards([("s0", ["a", "b"], 2), ("s1", ["c"], 2)], ids, 2, 2)  # as asked: no error
    with pytest.raises(StaleShardError, match=r"s1 holds images c x 1 repeats, where the config asks for images "
                                              r"c x 2 repeats"):
        check_shards([("s0", ["a", "b"], 2), ("s1", ["c"], 1)], ids, 2, 2)
    with pytest.raises(StaleShardError, match=r"2 shard files \(s0, \.\.\.\) where the config asks for 3"):
        check_shards([("s0", ["a"], 1), ("s1", ["b"], 1)], ids, 1, 1)
    with pytest.raises(StaleShardError, match="s0 holds images a, b x 1 repeats, where the config asks for images a x"):
        check_shards([("s0", ["a", "b"], 1), ("s1", ["c"], 1), ("s2", ["c"], 1)], ids, 1, 1)


def test_the_tables_check_each_samplers_records():
    record = lambda sampler, images, repeats=1: dict(dataset="d", task="t", sampler=sampler, images=images,
                                                     repeats=repeats)
    good = [("x0", record("x", ["a"])), ("y0", record("y", ["a"])), ("x1", record("x", ["b"])),
            ("y1", record("y", ["b"]))]
    check_shard_records(good, {"d": ["a", "b"]}, 1, 1)
    with pytest.raises(StaleShardError, match="y1 holds images b x 3 repeats"):
        check_shard_records(good[:3] + [("y1", record("y", ["b"], 3))], {"d": ["a", "b"]}, 1, 1)
