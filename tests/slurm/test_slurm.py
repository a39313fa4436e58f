"""The tiny config through a real Slurm (tests/slurm/cluster.sh) with profiles/slurm: its tables
must equal a local run's exactly. Run by `make test-slurm`, not by `make test`."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
TINY = ROOT / "config" / "test" / "tiny.yaml"
# test overrides of the profile's placeholders: the test cluster's partition and account
SLURM_OVERRIDES = ["--default-resources", "slurm_partition=debug", "slurm_account=spgd-test", "mem_mb=1500",
                   "runtime=20", "--set-resources", "sample:slurm_partition=debug", "sample:mem_mb=1500",
                   "preflight:slurm_partition=debug", "preflight:mem_mb=1500",
                   "metrics:mem_mb=3000", "--slurm-init-seconds-before-status-checks=2",
                   "--seconds-between-status-checks=5", "--latency-wait=5"]


def run(workdir, *args):
    command = [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", str(TINY),
               *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=3000)


@pytest.fixture(scope="module")
def workflow_runs(tmp_path_factory):
    if shutil.which("sbatch") is None or subprocess.run(["sinfo"], capture_output=True).returncode:
        pytest.fail("no Slurm here: run `make test-slurm`, which installs and starts one")
    local, cluster = tmp_path_factory.mktemp("local"), tmp_path_factory.mktemp("slurm")
    result = run(local, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    result = run(cluster, "--profile", str(ROOT / "profiles" / "slurm"), *SLURM_OVERRIDES)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    return local, cluster, started


def test_slurm_tables_equal_the_local_tables_exactly(workflow_runs):
    local, cluster, _ = workflow_runs
    for table in ("main.csv", "ablations.csv", "main.md"):
        assert (cluster / "results/tables" / table).read_text() == (local / "results/tables" / table).read_text()
    pd.testing.assert_frame_equal(pd.read_csv(cluster / "results/metrics/synthetic/gaussian_blur.csv"),
                                  pd.read_csv(local / "results/metrics/synthetic/gaussian_blur.csv"), check_exact=True)


def test_sampling_and_metrics_ran_as_slurm_jobs(workflow_runs):
    _, _, started = workflow_runs
    accounting = subprocess.run(["sacct", "-X", "--parsable2", "--noheader", "--format=Comment,State",
                                 "--starttime", started], capture_output=True, text=True, check=True).stdout
    jobs = [line.split("|") for line in accounting.splitlines()]
    rules = {comment.removeprefix("rule_").split("_wildcards_")[0] for comment, _ in jobs}
    # the plugin puts the rule in the job comment; localrules never reach Slurm
    assert rules == {"preflight", "sample", "metrics"}, sorted(rules)
    assert all(state == "COMPLETED" for _, state in jobs)
    assert sum(comment.startswith("rule_sample") for comment, _ in jobs) == 2 * 4 * 2  # tasks x samplers x shards
