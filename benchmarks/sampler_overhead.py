"""Sampler overhead: wall time of a whole run divided by (NFE x denoiser call time).

Paper settings: SPGD K=100, N=5 (500 NFE with backward), DPS 1000 steps (1000 NFE with
backward), DPS-GM at DPS's cost (200 steps x 5 iterations), DAPS-1K (200 x 5 ODE steps = 1000
NFE without backward, plus 200 x 100 Langevin steps that use only the operator). The prior is a
small randomly initialised CNN: this measures timing, not restoration quality. Each sampler run
alternates with a reference loop that makes exactly the same denoiser calls and nothing else (CPU
speed drifts too much for a one-off calibration); the ratio is min(sampler wall) / min(reference
wall); "traced" is the same with the angle trace on. Target: ratio <= 1.05.

    python benchmarks/sampler_overhead.py [--paper] [--size 64] [--device cpu] [--task random_inpainting]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from spgd.devices import denoiser_calls, timed
from spgd.operators import make_operator
from spgd.priors import Prior
from spgd.samplers import make_sampler

PAPER = {
    "spgd": dict(steps=100, warmup=5, lr=1.0),
    "dps": dict(steps=1000, zeta=0.5),
    "dps_gm": dict(steps=200, warmup=5, zeta=0.5),
    "daps": dict(steps=200, ode_steps=5, langevin_steps=100, lr=1e-4),
}


class SmallCNNPrior(Prior):
    """D(x, sigma) = x - sigma * net(x / sqrt(1 + sigma^2)): a few 3x3 convolutions, random weights."""

    def __init__(self, width: int = 64, layers: int = 4):
        super().__init__()
        blocks = [nn.Conv2d(3, width, 3, padding=1), nn.SiLU()]
        for _ in range(layers - 2):
            blocks += [nn.Conv2d(width, width, 3, padding=1), nn.SiLU()]
        blocks.append(nn.Conv2d(width, 3, 3, padding=1))
        self.net = nn.Sequential(*blocks)
        self.freeze()

    def denoise(self, x, sigma):
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        return x - sigma * 0.01 * self.net(x / torch.sqrt(1 + sigma**2))


# the default run: a fifth of the paper's steps (the ratio is per network evaluation, so it is the
# same quantity), in about a minute instead of half an hour on 2 cores; --paper runs the paper's NFE
QUICK = {name: {**params, "steps": params["steps"] // 5} for name, params in PAPER.items()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--task", default="random_inpainting")
    parser.add_argument("--rounds", type=int, default=3, help="alternating sampler/reference runs; minimum of each")
    parser.add_argument("--paper", action="store_true", help="the paper's steps (default: a fifth of them)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="wall: elapsed time (the ratio's definition); cpu: process CPU time, CPU runs "
                             "only (on the 2-core dev VM it was no less noisy than wall time)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")


def sampler_ratios(args) -> None:
    """Print each sampler's wall time over the time of its denoiser calls alone."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.clock == "cpu" and device.type != "cpu":
        raise SystemExit("--clock cpu measures host CPU time; use --clock wall on a GPU")
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.manual_seed(0)
    prior = SmallCNNPrior().to(device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    forward, forward_backward = denoiser_calls(prior, x)

    op = make_operator(args.task, args.size, list(range(args.batch)), seed=0).to(device)
    y = op.measure(torch.rand(args.batch, 3, args.size, args.size, device=device) * 2 - 1)
    for _ in range(20):  # warm up kernels and the allocator before anything is timed
        forward_backward()
    print(f"device {device}, image {args.size}px, batch {args.batch}, task {args.task}, "
          f"rounds {args.rounds}, clock {args.clock}, threads {torch.get_num_threads()}, "
          f"{'paper steps' if args.paper else 'a fifth of the paper steps (--paper for all)'}")
    print(f"{'sampler':8s} {'NFE fwd':>8s} {'NFE bwd':>8s} {'time s':>8s} {'NFE-only s':>10s} {'ratio':>7s} {'traced':>7s}")
    seeds = list(range(args.batch))
    for name, params in (PAPER if args.paper else QUICK).items():
        sampler = make_sampler(name, prior, **params)
        walls, references, traced = [], [], []
        for _ in range(args.rounds):
            wall, result = timed(lambda: sampler.sample(op, y, seeds), device, clock)
            walls.append(wall)
            # the same number of denoiser calls, nothing else: the floor the sampler is judged by
            references.append(timed(lambda: [forward_backward() for _ in range(result.nfe_backward)]
                                    + [forward() for _ in range(result.nfe_forward - result.nfe_backward)], device, clock)[0])
            traced.append(timed(lambda: sampler.sample(op, y, seeds, trace=True), device, clock)[0])
        wall, reference, wall_traced = min(walls), min(references), min(traced)
        print(f"{name:8s} {result.nfe_forward:8d} {result.nfe_backward:8d} {wall:8.2f} {reference:10.2f} "
              f"{wall / reference:7.3f} {wall_traced / reference:7.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    sampler_ratios(parser.parse_args())


if __name__ == "__main__":
    main()
