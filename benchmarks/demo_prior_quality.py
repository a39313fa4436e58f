"""Quality of the demo prior on held-out photos, against classical baselines, in one run.

1. Denoising PSNR at noise std 0.05, 0.1, 0.2, 0.5 ([0, 1] units) on held-out crops: the prior's
   denoiser D(y, sigma) against the best of scikit-image's denoise_nl_means, denoise_wavelet and
   denoise_tv_chambolle, each with its strength tuned on the same crops (oracle-tuned baselines).
2. SPGD with the demo settings on SR x4 and on random inpainting against bicubic upsampling and a
   masked-neighbour fill, both computed from the same measurement: on the demo's own views and on
   held-out views 12 onwards (views 4-11 tuned the demo's step sizes). Each image is restored
   ``--samples`` times through the workflow's own path (``spgd.pipeline.steps.restore_shard``; sample 0 is
   the demo's), and three numbers are printed: the demo's sample, the PSNR of one sample averaged
   over the seeds, and the PSNR of the mean of the samples (an estimate of the posterior mean).
   For an exact posterior sampler one sample's squared error is twice the posterior mean's
   (3 dB), and the mean of N samples sits 10 log10(2N / (N + 1)) dB above one sample.

Prints the tables and the margins (ours minus the best baseline, dB); exits 1 if a margin of the
denoising table or of the demo's own samples on the demo set is not positive.

    python benchmarks/demo_prior_quality.py [--crops 64] [--samples 8] [--more-views 24] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import yaml

from spgd.demo.baselines import SKIMAGE_DENOISERS, bicubic_upsample, masked_neighbour_fill, skimage_denoise
from spgd.demo.photos import HELD_OUT, CropSampler, held_out_views
from spgd.demo.training import EVAL_SIGMAS, denoising_psnr, noisy_copy
from spgd.metrics import psnr
from spgd.operators import make_operator
from spgd.pipeline.config import SamplerSpec
from spgd.pipeline.steps import restore_shard
from spgd.priors import make_prior

STRENGTHS = (0.5, 0.75, 1.0, 1.5, 2.0)
FIRST_UNTUNED_VIEW = 12  # views 0-3 are the demo, views 4-11 tuned its step sizes
CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def denoising_table(prior, crops: torch.Tensor) -> list[dict]:
    rows = []
    for sigma in EVAL_SIGMAS:
        seed = int(sigma * 1000)
        row = {"sigma": sigma, "ours": denoising_psnr(prior.denoise, crops, sigma, seed)}
        noisy01 = (noisy_copy(crops, sigma, seed) + 1) / 2  # the same noisy images, in scikit-image's range
        for method in SKIMAGE_DENOISERS:
            best = -np.inf
            for strength in STRENGTHS:
                out = np.stack([skimage_denoise(method, image.permute(1, 2, 0).double().numpy(), sigma, strength)
                                for image in noisy01])
                restored = torch.from_numpy(out).permute(0, 3, 1, 2).float() * 2 - 1
                best = max(best, psnr(restored, crops).mean().item())
            row[method] = best
        rows.append(row)
    return rows


def restoration_table(prior_spec: dict, images: torch.Tensor, ids: list[str], config: dict,
                      samples: int) -> list[dict]:
    rows = []
    spec = SamplerSpec.from_config("spgd", config["samplers"]["spgd"])
    for task, baseline_name in (("sr4", "bicubic"), ("random_inpainting", "masked-neighbour fill")):
        options = config["tasks"].get(task, {})
        op = make_operator(task, images.shape[-1], ids, config["seed"], channels=images.shape[1], **options)
        with torch.no_grad():
            y = op.measure(images)  # what the workflow's degrade rule writes (spgd.pipeline.steps.degrade)
        baseline = bicubic_upsample(y, op.factor) if task == "sr4" else masked_neighbour_fill(y, op.params)
        restored, _, _ = restore_shard(prior_spec, spec, task, options, ids, y, images.shape[-1], images.shape[1],
                                       config["seed"], repeats=samples)
        per_sample = torch.stack([psnr(r, images) for r in restored])
        rows.append({"task": task, "demo_sample": per_sample[0].mean().item(), "one_sample": per_sample.mean().item(),
                     "mean_of_samples": psnr(restored.mean(0), images).mean().item(), "baseline": baseline_name,
                     "baseline_psnr": psnr(baseline, images).mean().item()})
    return rows


def print_restoration(title: str, rows: list[dict], samples: int) -> list[float]:
    """Prints a restoration table; returns the margins of the demo's sample over the baselines."""
    print(f"\n{title}, PSNR (dB); {samples} samples per image")
    print(f"| task | SPGD, demo's sample | SPGD, one sample (mean over {samples} seeds) | "
          f"SPGD, mean of {samples} samples | baseline | baseline PSNR | margin of demo's sample | "
          "margin of mean of samples |")
    print("|---|---|---|---|---|---|---|---|")
    margins = []
    for row in rows:
        margins.append(row["demo_sample"] - row["baseline_psnr"])
        print(f"| {row['task']} | {row['demo_sample']:.2f} | {row['one_sample']:.2f} | {row['mean_of_samples']:.2f} | "
              f"{row['baseline']} | {row['baseline_psnr']:.2f} | {margins[-1]:+.2f} | "
              f"{row['mean_of_samples'] - row['baseline_psnr']:+.2f} |")
    return margins


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--crops", type=int, default=64, help="held-out crops for the denoising table")
    parser.add_argument("--samples", type=int, default=8, help="SPGD samples per image (sample 0 is the demo's)")
    parser.add_argument("--more-views", type=int, default=24,
                        help=f"held-out views from view {FIRST_UNTUNED_VIEW} on (never used for tuning or shown "
                             "in the demo) for a second restoration table; 0 skips it")
    parser.add_argument("--checkpoint", default=None, help="a retrained demo prior (default: the shipped one)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.samples < 1 or args.more_views < 0 or args.crops < 1:
        parser.error(f"--samples and --crops must be >= 1 and --more-views >= 0, got {args.samples}, {args.crops} "
                     f"and {args.more_views}")
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(CONFIG.read_text())
    prior_spec = {"type": "edm_unet", "checkpoint": args.checkpoint} if args.checkpoint else config["prior"]
    prior = make_prior(prior_spec)
    size, count = config["datasets"]["photos"]["image_size"], config["datasets"]["photos"]["count"]

    crops = CropSampler(HELD_OUT, size, seed=12345).batch(args.crops)
    print(f"Denoising PSNR (dB), {args.crops} held-out {size}x{size} crops; baselines tuned over strengths {STRENGTHS}")
    print("| sigma | demo prior | nl_means | wavelet | tv_chambolle | margin over best |")
    print("|---|---|---|---|---|---|")
    margins = []
    for row in denoising_table(prior, crops):
        best = max(row[m] for m in SKIMAGE_DENOISERS)
        margins.append(row["ours"] - best)
        print(f"| {row['sigma']} | {row['ours']:.2f} | {row['nl_means']:.2f} | {row['wavelet']:.2f} | "
              f"{row['tv_chambolle']:.2f} | {margins[-1]:+.2f} |")

    images, manifest = held_out_views(count, size, config["seed"])
    rows = restoration_table(prior_spec, images, [m["id"] for m in manifest], config, args.samples)
    margins += print_restoration(f"SPGD (demo settings) on the demo set (held-out views 0-{count - 1}, {size}x{size})",
                                 rows, args.samples)
    if args.more_views:
        last = FIRST_UNTUNED_VIEW + args.more_views
        images, manifest = held_out_views(last, size, config["seed"])
        rows = restoration_table(prior_spec, images[FIRST_UNTUNED_VIEW:],
                                 [m["id"] for m in manifest[FIRST_UNTUNED_VIEW:]], config, args.samples)
        print_restoration(f"SPGD (demo settings) on held-out views {FIRST_UNTUNED_VIEW}-{last - 1} (not the demo's, "
                          "not used for tuning)", rows, args.samples)
    ok = all(m > 0 for m in margins)
    print("\nall margins positive" if ok else "\nSOME MARGIN IS NOT POSITIVE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
