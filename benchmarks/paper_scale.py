"""Paper-scale readiness: both guided-diffusion architectures (FFHQ 93.6 M, ImageNet 552.8 M
parameters, RANDOM weights: this measures speed and memory, not quality) with SPGD (K=100, N=5),
DPS (1000 steps) and DAPS-1K (200 x 5 ODE steps, 100 Langevin steps) at several batch sizes.

Each sampler runs a few outer steps (--steps) and the time is extrapolated linearly to the
paper's step count: every outer step of these samplers costs the same. Printed per
(architecture, sampler, batch): images/s of a full paper run, peak device memory, and the ratio of
sampler wall time to the bare UNet time for the same network evaluations at the same batch
(forward+backward for guided evaluations, forward alone for the rest). A batch that does not fit
in memory is reported and skipped.

    python benchmarks/paper_scale.py                       # CUDA at 256 px when present
    python benchmarks/paper_scale.py --device cpu --size 64 --batches 1 4
"""

from __future__ import annotations

import argparse

import torch

from spgd.devices import denoiser_seconds, timed
from spgd.operators import make_operator
from spgd.priors.adm import ARCHITECTURES, ADMPrior
from spgd.samplers import make_sampler

PAPER = {  # name: (full settings, outer steps of a full run)
    "spgd": (dict(steps=100, warmup=5, lr=7.0), 100),
    "dps": (dict(steps=1000, zeta=0.3), 1000),
    "daps": (dict(steps=200, ode_steps=5, langevin_steps=100, lr=1e-4), 200),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 16, 32])
    parser.add_argument("--architectures", nargs="+", default=list(ARCHITECTURES), choices=list(ARCHITECTURES))
    parser.add_argument("--steps", type=int, default=3, help="outer steps timed per sampler (then extrapolated)")
    parser.add_argument("--task", default="sr4")
    args = parser.parse_args()
    if args.steps < 1 or min(args.batches) < 1 or args.size % 32:
        parser.error("--steps and --batches must be >= 1 and --size a multiple of 32")
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device {name}, {args.size} px, task {args.task}, {args.steps} outer steps timed and extrapolated; "
          "random weights (speed only)")
    print(f"{'model':9s} {'sampler':7s} {'batch':>5s} {'images/s':>9s} {'s/image':>9s} {'peak GiB':>9s} "
          f"{'UNet f+b ms':>11s} {'ratio':>6s}")
    for architecture in args.architectures:
        torch.manual_seed(0)
        prior = ADMPrior.untrained(architecture).to(device)
        for batch in args.batches:
            try:
                x = torch.randn(batch, 3, args.size, args.size, device=device)
                t_forward, t_forward_backward = denoiser_seconds(prior, x)
                op = make_operator(args.task, args.size, list(range(batch)), seed=0).to(device)
                y = op.measure(x.clamp(-1, 1))
                for sampler_name, (settings, full_steps) in PAPER.items():
                    short = {**settings, "steps": args.steps}
                    sampler = make_sampler(sampler_name, prior, **short)
                    if device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats(device)
                    wall, result = timed(lambda: sampler.sample(op, y, list(range(batch))), device)
                    nfe_forward, nfe_backward = result.nfe_forward, result.nfe_backward
                    bare = nfe_backward * t_forward_backward + (nfe_forward - nfe_backward) * t_forward
                    full_wall = wall * full_steps / args.steps
                    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
                    print(f"{architecture:9s} {sampler_name:7s} {batch:5d} {batch / full_wall:9.4f} "
                          f"{full_wall / batch:9.1f} {peak:9.2f} {1000 * t_forward_backward:11.1f} {wall / bare if bare else float('nan'):6.3f}",
                          flush=True)
            except torch.OutOfMemoryError:
                print(f"{architecture:9s} {'all':7s} {batch:5d} out of device memory: skipped", flush=True)
                torch.cuda.empty_cache()
        del prior


if __name__ == "__main__":
    main()
