"""Where users wait: the job start-up every job pays, the samplers' overhead over their network
calls, the dry run of large grids and (with --demo) a demo run broken down by stage and job.
`make benchmark` runs it without the demo in about 3 minutes on 2 cores.

0. Sampler ratios: benchmarks/sampler_overhead.py (a fifth of the paper's steps; --paper for all).
1. Demo breakdown: runs the workflow on config/config.yaml in a scratch folder (the metric networks
   of the repository's .cache are linked in, as after a first `make demo`) and reads each job's
   wall time from Snakemake's log (second resolution) and each sample job's sampling seconds from
   its stats JSON; the rest of a sample job is start-up (Python, imports, loading) and writing.
2. Dry runs: `snakemake -n` of the tiny test config (the fixed cost), then of grids of about
   1,000 / 3,000 / 10,000 sample jobs (a Gaussian-mixture data set of 20 one-image shards, 5 tasks,
   ablation points of SPGD's warm-up), wall seconds. Where a Slurm client is installed but no
   controller answers, the Slurm executor plugin waits about 9 s for `scontrol` at every start:
   the tiny config's row shows it.
3. Job start-up: a fresh Python that imports what a sample job imports, best of 3.

    python benchmarks/workflow_speed.py [--demo] [--paper] [--jobs 1000 3000 10000]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import yaml

import sampler_overhead

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
STAGES = {  # rule -> stage of the breakdown
    "dataset": "data", "degrade": "data", "preflight": "sample", "sample": "sample",
    "metric_weights": "metrics", "truth_png": "metrics", "metrics": "metrics", "tables": "tables",
    "angle_figure": "figures", "report_html": "report", "input_provenance": "data", "all": "report",
}


def job_walls(log_text: str) -> list[tuple[str, float]]:
    """(rule, wall seconds) of every job in a Snakemake log: from the timestamp above its
    ``rule NAME:`` block to the one above ``Finished jobid: N``."""
    stamp, starts, rules, out = None, {}, {}, []
    pending_rule = None
    for line in log_text.splitlines():
        found = re.match(r"\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]", line.strip())
        if found:
            stamp = datetime.strptime(found.group(1), "%a %b %d %H:%M:%S %Y").timestamp()
            continue
        if (rule := re.match(r"(?:local)?rule (\w+):", line.strip())):
            pending_rule = rule.group(1)
        elif (job := re.match(r"jobid: (\d+)", line.strip())) and pending_rule:
            starts[job.group(1)], rules[job.group(1)], pending_rule = stamp, pending_rule, None
        elif (done := re.match(r"Finished jobid: (\d+)", line.strip())) and done.group(1) in starts:
            out.append((rules[done.group(1)], stamp - starts[done.group(1)]))
    return out


def demo_breakdown(workdir: Path | None = None) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = workdir or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        if (ROOT / ".cache").is_dir() and not (work / ".cache").exists():
            (work / ".cache").symlink_to(ROOT / ".cache")
        start = time.perf_counter()
        run = subprocess.run([*SNAKEMAKE, "--cores", "2", "--directory", str(work),
                              "--configfile", str(ROOT / "config" / "config.yaml")], capture_output=True, text=True)
        total = time.perf_counter() - start
        if run.returncode:
            sys.exit(f"the demo failed:\n{run.stderr[-3000:]}")
        log = max((work / ".snakemake" / "log").glob("*.snakemake.log")).read_text()
        walls = job_walls(log)
        sampling = sum(json.loads(p.read_text())["wall_seconds"] for p in work.glob("results/samples/**/*.json"))
    by_stage, by_rule = defaultdict(float), defaultdict(list)
    for rule, wall in walls:
        by_stage[STAGES.get(rule, rule)] += wall
        by_rule[rule].append(wall)
    print(f"demo: {total:.0f} s wall on 2 cores, {len(walls)} jobs")
    print(f"{'rule':16s} {'jobs':>5s} {'job s (sum)':>12s} {'mean':>7s}")
    for rule, values in sorted(by_rule.items(), key=lambda item: -sum(item[1])):
        print(f"{rule:16s} {len(values):5d} {sum(values):12.0f} {sum(values) / len(values):7.1f}")
    sample_jobs = sum(1 for rule, _ in walls if rule == "sample")
    sample_wall = sum(by_rule["sample"])
    print(f"sample jobs: {sample_wall:.0f} s, of which sampling {sampling:.0f} s and the rest (start-up, "
          f"loading, writing) {sample_wall - sampling:.0f} s, {(sample_wall - sampling) / max(sample_jobs, 1):.1f} s a job")
    print("by stage (job seconds): " + ", ".join(f"{stage} {seconds:.0f}" for stage, seconds in by_stage.items()))


def grid_config(samplers: int, tasks: int = 5, shards: int = 20) -> dict:
    """A config of about ``samplers * tasks * shards`` sample jobs on a Gaussian-mixture data set."""
    config = yaml.safe_load((ROOT / "config" / "test" / "tiny.yaml").read_text())
    task_names = ["sr4", "box_inpainting", "random_inpainting", "gaussian_blur", "motion_blur"][:tasks]
    config["tasks"] = {task: config["tasks"].get(task, {}) for task in task_names}
    for dataset in config["datasets"].values():
        dataset["count"] = shards
    config["shard_size"] = 1
    base = next(name for name, entry in config["samplers"].items() if entry["variant"].startswith("spgd"))
    config["samplers"] = {base: config["samplers"][base]}
    config["angles"] = {"tasks": [], "samplers": []}
    config["ablations"] = {"warmup": {"base": base, "param": "warmup", "values": list(range(2, samplers + 1))}}
    config.get("tables", {}).pop("reference", None)
    return config


def dry_run(config: dict) -> tuple[str, float]:
    """(sample jobs counted, wall seconds) of ``snakemake -n`` of ``config`` in a scratch folder."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "grid.yaml"
        path.write_text(yaml.safe_dump(config))
        start = time.perf_counter()
        run = subprocess.run([*SNAKEMAKE, "-n", "--quiet", "all", "--directory", scratch, "--configfile", str(path),
                              "--cores", "2"], capture_output=True, text=True)
        wall = time.perf_counter() - start
    if run.returncode:
        sys.exit(f"the dry run failed:\n{run.stderr[-3000:]}")
    counted = re.search(r"sample\s+(\d+)", run.stdout + run.stderr)
    return (counted.group(1) if counted else "?"), wall


def dry_runs(job_counts: list[int]) -> None:
    """The tiny config first: its few jobs show the fixed cost (Python, Snakemake and its plugins,
    the config checks), which the grids pay too."""
    print(f"{'sample jobs':>11s} {'dry run s':>10s}")
    tiny = yaml.safe_load((ROOT / "config" / "test" / "tiny.yaml").read_text())
    for config in [tiny, *(grid_config(max(1, round(jobs / 100))) for jobs in job_counts)]:
        counted, wall = dry_run(config)
        print(f"{counted:>11s} {wall:10.1f}")


def job_startup(rounds: int = 3) -> float:
    """Seconds a fresh Python takes to import what a sample job imports (best of ``rounds``)."""
    code = "import torch, pandas, spgd.pipeline.steps, snakemake.iocontainers"
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true", help="also run the demo and break it down (minutes)")
    parser.add_argument("--jobs", type=int, nargs="*", default=[1000, 3000, 10000], help="dry-run grid sizes")
    parser.add_argument("--workdir", type=Path, help="run the demo here and keep its results (default: a scratch "
                                                       "folder, removed afterwards)")
    sampler_overhead.add_arguments(parser)
    args = parser.parse_args(argv)
    print(f"job start-up (fresh Python, a sample job's imports): {job_startup():.2f} s")
    sampler_overhead.sampler_ratios(args)
    if args.jobs:
        dry_runs(args.jobs)
    if args.demo:
        demo_breakdown(args.workdir)


if __name__ == "__main__":
    main()
