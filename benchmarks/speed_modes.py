"""Speed modes of the prior (``precision: bf16``, ``channels_last: true``, ``compile: true``; see
``spgd.priors.speed``) against the fp32 default, each timed in the same run, with the drift each
causes:

- speed: forward with the input-gradient backward, per image, fp32 time over the mode's time;
- max |dD|: largest change of the denoiser output D(x) over three noise levels (images in [-1, 1]);
- cosine: between the input gradients of SPGD's loss ||A(D(x)) - y||^2 with and without the mode;
- dPSNR: change of the final image's PSNR (dB) of an SPGD restoration with the same seeds, per task.

Priors: the demo prior (trained) and the FFHQ guided-diffusion UNet with RANDOM weights (its
zero-initialised output layers re-drawn, else D(x) = x): its drift shows the arithmetic, not what
a trained network gives. Images: held-out demo photos at ``--size`` px.

    python benchmarks/speed_modes.py                 # CPU, 64 px (minutes: compile is slow to start)
    python benchmarks/speed_modes.py --device cuda --size 256
"""

from __future__ import annotations

import argparse
import time

import torch

from spgd.demo.photos import held_out_views
from spgd.devices import denoiser_seconds
from spgd.metrics.pixel import psnr
from spgd.operators import make_operator
from spgd.priors import ADMPrior, EDMUNetPrior
from spgd.priors.speed import with_speed_modes
from spgd.samplers import make_sampler

MODES = {"bf16": dict(precision="bf16"), "channels_last": dict(channels_last=True), "compile": dict(compile=True)}
TASKS = ("sr4", "gaussian_blur")
SIGMAS = (10.0, 1.0, 0.1)


def benchmark_prior(name: str, device) -> torch.nn.Module:
    """A fresh prior (modes change it in place): ``demo`` (the shipped weights) or a guided-diffusion
    architecture with random weights whose output layers are not zero."""
    torch.manual_seed(0)
    if name == "demo":
        return EDMUNetPrior().to(device)
    prior = ADMPrior.untrained(name)
    for parameter in prior.parameters():
        if not parameter.any():
            parameter.normal_(0, 0.02)
    return prior.to(device)


def loss_gradient(prior, x, op, y, sigma):
    x = x.detach().requires_grad_(True)
    denoised = prior.denoise(x, sigma)
    (gradient,) = torch.autograd.grad((op(denoised) - y).square().sum(), x)
    return denoised.detach(), gradient


def restoration_psnr(prior, op, y, truth, steps):
    sampler = make_sampler("spgd", prior, steps=steps, warmup=2, lr=1.0)
    restored = sampler.sample(op, y, list(range(len(y)))).x
    return psnr(restored.clamp(-1, 1), truth).mean().item()


def compare(name: str, size: int, device, steps: int) -> list[dict]:
    truth, _ = held_out_views(2, size)
    truth = truth.to(device)
    problems = {task: make_operator(task, size, [0, 1], 0, channels=3).to(device) for task in TASKS}
    problems = {task: (op, op.measure(truth)) for task, op in problems.items()}
    noisy = {sigma: truth + sigma * torch.randn(truth.shape, generator=torch.Generator().manual_seed(1)).to(device)
             for sigma in SIGMAS}
    timing_batch = torch.randn(4, 3, size, size, device=device)

    def measure(prior):
        start = time.perf_counter()
        seconds = denoiser_seconds(prior, timing_batch)[1] / len(timing_batch)  # after a warm-up (and compilation)
        op, y = problems[TASKS[0]]
        outputs = {sigma: loss_gradient(prior, x, op, y, sigma) for sigma, x in noisy.items()}
        scores = {task: restoration_psnr(prior, op, y, truth, steps) for task, (op, y) in problems.items()}
        return dict(seconds=seconds, outputs=outputs, psnr=scores, wall=time.perf_counter() - start)

    reference = measure(benchmark_prior(name, device))
    rows = []
    for mode, settings in MODES.items():
        result = measure(with_speed_modes(benchmark_prior(name, device), settings))
        drift = max((result["outputs"][s][0] - reference["outputs"][s][0]).abs().max().item() for s in SIGMAS)
        cosine = min(torch.nn.functional.cosine_similarity(result["outputs"][s][1].flatten(),
                                                           reference["outputs"][s][1].flatten(), dim=0).item()
                     for s in SIGMAS)
        rows.append(dict(prior=name, mode=mode, speed=reference["seconds"] / result["seconds"], max_dD=drift,
                         cosine=cosine, **{f"dPSNR_{task}": result["psnr"][task] - reference["psnr"][task]
                                           for task in TASKS},
                         fp32_ms=1000 * reference["seconds"], mode_ms=1000 * result["seconds"], wall_s=result["wall"]))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--priors", nargs="+", default=["demo", "ffhq"], choices=["demo", "ffhq", "imagenet"])
    parser.add_argument("--steps", type=int, default=20, help="SPGD steps of the restorations (2 warm-up each)")
    args = parser.parse_args()
    if args.size % 32 or args.steps < 1:
        parser.error("--size must be a multiple of 32 and --steps >= 1")
    device = torch.device(args.device)
    print(f"device {device}, {torch.get_num_threads()} threads, {args.size} px, torch {torch.__version__}")
    print("| prior | mode | speed vs fp32 | max abs dD | gradient cosine | "
          + " | ".join(f"dPSNR {t} (dB)" for t in TASKS) + " | fp32 / mode ms per image |")
    print("|---" * (6 + len(TASKS)) + "|")
    for name in args.priors:
        for row in compare(name, args.size, device, args.steps):
            print(f"| {row['prior']} | {row['mode']} | {row['speed']:.2f}x | {row['max_dD']:.2e} | "
                  f"{row['cosine']:.6f} | " + " | ".join(f"{row[f'dPSNR_{t}']:+.4f}" for t in TASKS)
                  + f" | {row['fp32_ms']:.0f} / {row['mode_ms']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
