"""Compute plan of a workflow configuration: per dataset and sampler, the sample jobs, the
restorations, the prior's network evaluations (NFE) forward and backward, and device-hours from
a per-evaluation cost measured on this device.

``python -m spgd.pipeline.plan --configfile config/paper.yaml`` prints it (``make plan CONFIG=...``).
The cost of one evaluation of the prior (forward alone, and forward with the backward pass that
guidance needs) is measured with random weights of the configured architecture at the dataset's
image size, once per (architecture, size, device, batch), and cached. NFE counts the prior only:
operator costs (the BKSE network in nonlinear deblurring, DAPS's Langevin steps) come on top.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
import torch

from .config import dataset_tasks, image_count, prior_of, sampler_specs
from .validation import load_config
from ..devices import denoiser_seconds

COST_CACHE = Path(".cache") / "spgd" / "nfe_costs.json"
COLUMNS = ["dataset", "sampler", "variant", "jobs", "restorations", "nfe_forward", "nfe_backward", "device_hours"]


def _timing_prior(spec: dict):
    """The configured prior's architecture for timing: random weights for guided-diffusion
    checkpoints (never used to restore anything), the real prior otherwise."""
    if spec["type"] == "adm":
        from ..priors.adm import ADMPrior

        return ADMPrior.untrained(spec.get("architecture", "ffhq"))
    from ..priors import make_prior

    return make_prior(spec)


def measure_cost(spec: dict, image_size: int, device: str, batch: int, repeats: int = 2) -> dict:
    """Seconds per image of one prior evaluation: ``forward`` (no gradient) and
    ``forward_backward`` (gradient with respect to the input), at ``batch`` images, after one
    warm-up call."""
    prior = _timing_prior(spec).to(device)
    shape = tuple(prior.shape) if spec["type"] == "gmm_smooth" else (3, image_size, image_size)
    forward, forward_backward = denoiser_seconds(prior, torch.randn(batch, *shape, device=device), repeats)
    return dict(forward=forward / batch, forward_backward=forward_backward / batch)


def cost_key(spec: dict, image_size: int, device: str, batch: int) -> str:
    name = torch.cuda.get_device_name(device) if str(device).startswith("cuda") else f"cpu x{torch.get_num_threads()}"
    return f"{spec['type']}:{spec.get('architecture', '')}|{image_size}px|{name}|batch {batch}|torch {torch.__version__}"


def cached_cost(spec, image_size, device, batch, cache: Path = COST_CACHE) -> tuple[dict, bool]:
    """(cost, measured now) from ``cache``, measuring and storing it when absent."""
    key = cost_key(spec, image_size, device, batch)
    known = json.loads(cache.read_text()) if cache.is_file() else {}
    if key in known:
        return known[key], False
    known[key] = measure_cost(spec, image_size, device, batch)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(known, indent=1))
    return known[key], True


def plan(config: dict, device: str | None = None, batch: int | None = None, costs: bool = True,
         cache: Path = COST_CACHE, log=print) -> pd.DataFrame:
    """One row per (dataset, sampler) with COLUMNS; ``device_hours`` is NaN when ``costs`` is false."""
    device = device or config["device"]
    if costs and str(device).startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"plan: device {device!r} has no CUDA here; pass --device cpu to time on the CPU")
    batch = batch or (config["shard_size"] if str(device).startswith("cuda") else 1)
    samplers, _ = sampler_specs(config)
    repeats = config["repeats"]
    rows = []
    for dataset, spec in config["datasets"].items():
        images, tasks = image_count(config, dataset), dataset_tasks(config, dataset)
        shards = math.ceil(images / config["shard_size"])
        cost = None
        if costs:
            cost, fresh = cached_cost(prior_of(config, dataset), spec["image_size"], device, batch, cache)
            log(f"{dataset}: {cost_key(prior_of(config, dataset), spec['image_size'], device, batch)}: "
                f"{1000 * cost['forward']:.1f} ms forward, {1000 * cost['forward_backward']:.1f} ms forward+backward "
                f"per image ({'measured now' if fresh else 'cached in ' + str(cache)})")
        for name, sampler in samplers.items():
            forward = backward = 0
            for task in tasks:
                f, b = sampler.planned_nfe(task)
                forward, backward = forward + f * images * repeats, backward + b * images * repeats
            hours = ((forward - backward) * cost["forward"] + backward * cost["forward_backward"]) / 3600 if cost else math.nan
            rows.append(dict(dataset=dataset, sampler=name, variant=sampler.variant, jobs=len(tasks) * shards,
                             restorations=images * len(tasks) * repeats, nfe_forward=forward,
                             nfe_backward=backward, device_hours=hours))
    return pd.DataFrame(rows, columns=COLUMNS)


def with_totals(table: pd.DataFrame) -> pd.DataFrame:
    total = table[COLUMNS[3:]].sum(skipna=False).to_dict()  # hours unknown anywhere: unknown in all
    table = pd.concat([table, pd.DataFrame([dict(dataset="total", sampler="", variant="", **total)])],
                      ignore_index=True)
    return table.astype({column: int for column in COLUMNS[3:-1]})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", required=True, help="workflow config, e.g. config/paper.yaml")
    parser.add_argument("--device", help="device to time the prior on (default: the config's device)")
    parser.add_argument("--batch", type=int, help="images per timed evaluation (default: shard_size on CUDA, 1 on CPU)")
    parser.add_argument("--no-costs", action="store_true", help="counts only, no timing")
    parser.add_argument("--cache", type=Path, default=COST_CACHE, help=f"cost cache (default {COST_CACHE})")
    parser.add_argument("--csv", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    if args.batch is not None and args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    config = load_config(args.configfile)
    table = with_totals(plan(config, args.device, args.batch, not args.no_costs, args.cache))
    if args.csv:
        table.to_csv(args.csv, index=False)
    print(table.to_string(index=False, formatters={"device_hours": "{:.4g}".format}))


if __name__ == "__main__":
    main()
