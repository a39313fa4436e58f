"""GPU check of the paper run, in one script (about 8 minutes on one H100; on the CPU it runs at
64 px to show that it works):

1. memory: the model of ``spgd.costs`` against the measured peak (CUDA's ``max_memory_allocated``;
   on the CPU the profiler's allocation records) of a forward with the input-gradient backward, at
   batch 1 and at the batch ``batch_size: auto`` takes on this device;
2. speed: images/s of SPGD (K=100, N=5), DPS (1000 steps) and DAPS-1K (200 x 5 ODE steps) at the
   auto batch, a few outer steps timed and extrapolated (every outer step costs the same), in fp32,
   bf16, bf16 + channels_last and bf16 + channels_last + compile;
3. the ratio to the FLOP floor: the prior's FLOPs per image of each sampler (``spgd.costs``) over
   the measured time, as a share of ``--peak-tflops``.

Both guided-diffusion UNets with RANDOM weights (speed and memory only, never quality). Rows are
printed as they are measured; modes left when ``--budget`` seconds have passed are skipped.

    python benchmarks/gpu_check.py                       # CUDA at 256 px
    python benchmarks/gpu_check.py --device cpu          # 64 px, to show it works
"""

from __future__ import annotations

import argparse
import time

import torch

from spgd.costs import GIB, fitting_batch, measured_peak_bytes, prior_cost
from spgd.devices import timed
from spgd.operators import make_operator
from spgd.pipeline.plan import H100_BF16_TFLOPS
from spgd.priors.adm import ARCHITECTURES
from spgd.priors.speed import with_speed_modes
from spgd.samplers import make_sampler
from speed_modes import benchmark_prior

PAPER = {  # sampler: (settings, outer steps of a full run, outer steps timed here)
    "spgd": (dict(steps=100, warmup=5, lr=1.0), 100, 2),
    "dps": (dict(steps=1000, zeta=0.3), 1000, 5),
    "daps": (dict(steps=200, ode_steps=5, langevin_steps=100, lr=1e-4), 200, 2),
}
MODES = {"fp32": {}, "bf16": dict(precision="bf16"), "bf16+channels_last": dict(precision="bf16", channels_last=True),
         "bf16+channels_last+compile": dict(precision="bf16", channels_last=True, compile=True)}


def auto_batch(cost, device) -> int:
    if device.type != "cuda":
        return cost.block
    return max(cost.block, fitting_batch(cost, torch.cuda.mem_get_info(device)[0]))


def sampler_seconds(prior, name, batch, size, device) -> float:
    """Seconds per image of a full paper run of sampler ``name``, extrapolated from a few steps."""
    settings, full_steps, timed_steps = PAPER[name]
    sampler = make_sampler(name, prior, **{**settings, "steps": timed_steps})
    op = make_operator("sr4", size, list(range(batch)), 0, channels=3).to(device)
    y = op.measure(torch.rand(batch, 3, size, size, device=device) * 2 - 1)
    sampler.sample(op, y, list(range(batch)))  # warm-up (and compilation)
    seconds, _ = timed(lambda: sampler.sample(op, y, list(range(batch))), device)
    return seconds / timed_steps * full_steps / batch


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, help="image side (default 256 on CUDA, 64 on the CPU)")
    parser.add_argument("--architectures", nargs="+", default=list(ARCHITECTURES), choices=list(ARCHITECTURES))
    parser.add_argument("--peak-tflops", type=float, default=H100_BF16_TFLOPS)
    parser.add_argument("--budget", type=float, default=420, help="seconds after which remaining modes are skipped")
    args = parser.parse_args()
    device = torch.device(args.device)
    size = args.size or (256 if device.type == "cuda" else 64)
    start = time.monotonic()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device {name}, {size} px, torch {torch.__version__}; random weights (speed and memory only)")
    print("\n| UNet | batch | model GiB | measured GiB | model / measured |\n|---|---|---|---|---|")
    costs = {architecture: prior_cost({"type": "adm", "architecture": architecture}, (3, size, size))
             for architecture in args.architectures}
    batches = {}
    for architecture, cost in costs.items():
        prior = benchmark_prior(architecture, device)
        batches[architecture] = auto_batch(cost, device)
        for batch in sorted({1, batches[architecture]}):
            model = cost.peak_bytes(batch) - cost.weight_bytes
            measured = measured_peak_bytes(prior, torch.randn(batch, 3, size, size, device=device))
            print(f"| {architecture} | {batch} | {model / GIB:.2f} | {measured / GIB:.2f} | {model / measured:.3f} |",
                  flush=True)
        del prior
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(f"\n| UNet | mode | batch | sampler | images/s | s/image | share of {args.peak_tflops:g} TFLOP/s |\n"
          "|---|---|---|---|---|---|---|")
    for mode, settings in MODES.items():
        for architecture in args.architectures:
            if time.monotonic() - start > args.budget:
                print(f"| {architecture} | {mode} | skipped: past --budget {args.budget:g} s | | | | |", flush=True)
                continue
            prior = with_speed_modes(benchmark_prior(architecture, device), settings)
            batch = batches[architecture]
            for sampler in PAPER:
                seconds = sampler_seconds(prior, sampler, batch, size, device)
                flop = costs[architecture].flops(*make_sampler(sampler, None, **PAPER[sampler][0]).planned_nfe)
                share = flop / seconds / (args.peak_tflops * 1e12)
                print(f"| {architecture} | {mode} | {batch} | {sampler} | {1 / seconds:.4g} | {seconds:.4g} | "
                      f"{100 * share:.2f} % |", flush=True)
            del prior
            if device.type == "cuda":
                torch.cuda.empty_cache()
    print(f"\ntotal {time.monotonic() - start:.0f} s")


if __name__ == "__main__":
    main()
