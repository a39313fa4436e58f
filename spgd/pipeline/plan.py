"""Compute plan of a workflow configuration: what its sample jobs need before any of them runs.

``python -m spgd.pipeline.plan --configfile config/paper.yaml --gpu-memory 24 40 80`` prints
(``make plan CONFIG=...``):

- per dataset, the prior's memory per image of one evaluation (forward with the input-gradient
  backward that guidance needs, and forward alone, as DAPS evaluates), its weights, its GFLOP per
  evaluation, and the batch ``batch_size: auto`` takes on a GPU of each ``--gpu-memory`` (default:
  this machine's GPU, if any); counted, not run (``spgd.costs``);
- per dataset and sampler, the sample jobs, restorations, the prior's network evaluations (NFE)
  forward and backward, TFLOP, the device-hours floor at ``--peak-tflops`` (default: an H100's
  dense BF16 peak), and device-hours measured on the configured device when it is here, timed at
  the batch that fits (cached per architecture, size, device and batch).

NFE and FLOPs count the prior only: operator costs (the BKSE network in nonlinear deblurring,
DAPS's Langevin steps) come on top.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd
import torch

from ..costs import GIB, MARGIN, RESERVE_BYTES, fitting_batch, prior_cost
from ..devices import denoiser_seconds
from .config import dataset_tasks, image_count, prior_of, sampler_specs
from .validation import load_config

COST_CACHE = Path(".cache") / "spgd" / "nfe_costs.json"
COLUMNS = ["dataset", "sampler", "variant", "jobs", "restorations", "nfe_forward", "nfe_backward", "tflop",
           "floor_hours", "device_hours"]
H100_BF16_TFLOPS = 989.0  # dense BF16 tensor-core peak of an H100 SXM
# what the CUDA runtime and its libraries take on a device before any tensor (a planning figure)
CUDA_CONTEXT_BYTES = GIB // 2


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


def image_shape(config: dict, dataset: str) -> tuple:
    spec = prior_of(config, dataset)
    if spec["type"] == "gmm_smooth":
        return (1, spec.get("side", 8), spec.get("side", 8))
    side = config["datasets"][dataset]["image_size"]
    return (3, side, side)


def device_memory_gib(device: str) -> float | None:
    """Total memory of ``device`` in GiB when it is a CUDA device present here, else None."""
    if not str(device).startswith("cuda") or not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(torch.device(device)).total_memory / GIB


def memory_plan(config: dict, gpu_memory_gib: list[float]) -> pd.DataFrame:
    """One row per dataset: the prior's memory per image of an evaluation with the input gradient
    (``gib_per_image``: every block's activations are kept for the backward pass, so it grows with
    the batch), the peak of a forward pass alone (``forward_gib``: one block at a time, whatever the
    batch, as DAPS evaluates), the weights, the least GPU memory one block with its gradient needs
    with the margins of ``spgd.costs.fitting_batch``, GFLOP per evaluation, and for each GPU size
    the batch ``auto`` takes for guided samplers (``batch_24gib``; 0: not even one block fits,
    lower the prior's ``network_batch``)."""
    rows = []
    for dataset in config["datasets"]:
        cost = prior_cost(prior_of(config, dataset), image_shape(config, dataset))
        one_block = cost.peak_bytes(0) + cost.block * cost.gradient_bytes_per_image * (1 + MARGIN)
        row = dict(dataset=dataset, image_size=cost.image_shape[-1], gib_per_image=cost.gradient_bytes_per_image / GIB,
                   forward_gib=(cost.peak_bytes(cost.block, gradient=False) - cost.weight_bytes) / GIB,
                   weights_gib=cost.weight_bytes / GIB, network_batch=cost.block,
                   min_gpu_gib=(one_block + RESERVE_BYTES + CUDA_CONTEXT_BYTES) / GIB,
                   gflop_forward=cost.flop_forward / 1e9, gflop_forward_backward=cost.flop_gradient / 1e9)
        for gib in gpu_memory_gib:
            row[f"batch_{gib:g}gib"] = fitting_batch(cost, int(gib * GIB) - CUDA_CONTEXT_BYTES, weights_loaded=False)
        rows.append(row)
    return pd.DataFrame(rows)


def plan(config: dict, device: str | None = None, batch: int | None = None, costs: bool = True,
         cache: Path = COST_CACHE, log=print, peak_tflops: float = H100_BF16_TFLOPS) -> pd.DataFrame:
    """One row per (dataset, sampler) with COLUMNS. ``device_hours`` is measured on ``device``
    (default: the config's) at ``batch`` images (default: on CUDA the batch that fits its free
    memory, on the CPU one block of the network); NaN when ``costs`` is false or the device is not
    here (a CUDA config planned on a CPU machine)."""
    device = device or config["device"]
    if costs and str(device).startswith("cuda") and not torch.cuda.is_available():
        log(f"device {device!r} is not here: no device-hours measured (--device cpu times on this CPU)")
        costs = False
    samplers, _ = sampler_specs(config)
    repeats = config["repeats"]
    rows = []
    for dataset in config["datasets"]:
        spec, shape = prior_of(config, dataset), image_shape(config, dataset)
        images, tasks = image_count(config, dataset), dataset_tasks(config, dataset)
        shards = math.ceil(images / config["shard_size"])
        flops = prior_cost(spec, shape)
        timing = None
        if costs:
            timed_batch = batch or (fitting_batch(flops, torch.cuda.mem_get_info(device)[0], weights_loaded=False)
                                    if str(device).startswith("cuda") else flops.block)
            timing, fresh = cached_cost(spec, shape[-1], device, timed_batch, cache)
            log(f"{dataset}: {cost_key(spec, shape[-1], device, timed_batch)}: "
                f"{1000 * timing['forward']:.1f} ms forward, {1000 * timing['forward_backward']:.1f} ms "
                f"forward+backward per image ({'measured now' if fresh else 'cached in ' + str(cache)})")
        for name, sampler in samplers.items():
            forward = backward = 0
            for task in tasks:
                f, b = sampler.planned_nfe(task)
                forward, backward = forward + f * images * repeats, backward + b * images * repeats
            tflop = flops.flops(forward, backward) / 1e12
            hours = ((forward - backward) * timing["forward"] + backward * timing["forward_backward"]) / 3600 \
                if timing else math.nan
            rows.append(dict(dataset=dataset, sampler=name, variant=sampler.variant, jobs=len(tasks) * shards,
                             restorations=images * len(tasks) * repeats, nfe_forward=forward,
                             nfe_backward=backward, tflop=tflop, floor_hours=tflop / peak_tflops / 3600,
                             device_hours=hours))
    return pd.DataFrame(rows, columns=COLUMNS)


def with_totals(table: pd.DataFrame) -> pd.DataFrame:
    total = table[COLUMNS[3:]].sum(skipna=False).to_dict()  # hours unknown anywhere: unknown in all
    table = pd.concat([table, pd.DataFrame([dict(dataset="total", sampler="", variant="", **total)])],
                      ignore_index=True)
    return table.astype({column: int for column in COLUMNS[3:7]})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configfile", required=True, help="workflow config, e.g. config/paper.yaml")
    parser.add_argument("--device", help="device to time the prior on (default: the config's device)")
    parser.add_argument("--batch", type=int, help="images per timed evaluation (default: on CUDA the batch that "
                                                  "fits, on the CPU one block of the network)")
    parser.add_argument("--gpu-memory", type=float, nargs="+", metavar="GIB",
                        help="GPU memory in GiB to plan batches for (default: this machine's GPU, if any)")
    parser.add_argument("--peak-tflops", type=float, default=H100_BF16_TFLOPS,
                        help=f"device peak for the floor (default {H100_BF16_TFLOPS:g}: H100 dense BF16)")
    parser.add_argument("--no-costs", action="store_true", help="no timing: counts, memory and FLOPs only")
    parser.add_argument("--cache", type=Path, default=COST_CACHE, help=f"cost cache (default {COST_CACHE})")
    parser.add_argument("--csv", type=Path, help="also write the sampler table here")
    args = parser.parse_args(argv)
    if args.batch is not None and args.batch < 1:
        parser.error(f"--batch must be >= 1, got {args.batch}")
    for value, name in [*((gib, "--gpu-memory") for gib in args.gpu_memory or ()), (args.peak_tflops, "--peak-tflops")]:
        if not value > 0:
            parser.error(f"{name} must be > 0, got {value:g}")
    config = load_config(args.configfile)
    device = args.device or config["device"]
    gpu_memory = args.gpu_memory or [gib for gib in [device_memory_gib(device)] if gib]
    memory = memory_plan(config, gpu_memory)
    print("Prior memory and FLOPs per image of one evaluation (counted, fp32):")
    print(memory.to_string(index=False, float_format="{:.3g}".format))
    if not gpu_memory:
        print("(no GPU here: pass --gpu-memory GIB for the batch a GPU of that size takes)")
    table = with_totals(plan(config, args.device, args.batch, not args.no_costs, args.cache,
                             peak_tflops=args.peak_tflops))
    if args.csv:
        table.to_csv(args.csv, index=False)
    print(f"\nSample jobs (floor: FLOPs at {args.peak_tflops:g} TFLOP/s; device_hours: measured on {device}):")
    print(table.to_string(index=False, formatters={column: "{:.4g}".format
                                                   for column in ("tflop", "floor_hours", "device_hours")}))


if __name__ == "__main__":
    main()
