"""Training the demo prior: EDM denoising score matching on crops of the training photos.

Karras et al. 2022: sigma ~ exp(N(-1.2, 1.2)), loss weight (sigma^2 + sigma_data^2) /
(sigma sigma_data)^2, Adam with a short warm-up and cosine decay, an exponential moving average of
the weights (which is what is saved). Given the seed, the thread count and the software versions,
the saved weights are reproducible bit for bit on the same machine type.
"""

from __future__ import annotations

import hashlib
import io
import math
import platform
import time
from importlib import metadata

import numpy as np
import torch

from ..metrics import psnr
from .photos import HELD_OUT, PHOTOS, TRAINING, CropSampler
from ..priors.unet import DEMO_ARCHITECTURE, SIGMA_DATA, EDMDenoiser

DEFAULTS = dict(steps=10_000, batch=32, crop=32, lr=2e-3, warmup=200, ema=0.999, p_mean=-1.2, p_std=1.2)
EVAL_SIGMAS = (0.05, 0.1, 0.2, 0.5)  # noise std in [0, 1] units (x2 in the model's [-1, 1] units)


def edm_loss(model: torch.nn.Module, clean: torch.Tensor, generator: torch.Generator, p_mean: float,
             p_std: float) -> torch.Tensor:
    sigma = torch.exp(p_mean + p_std * torch.randn(clean.shape[0], generator=generator))
    noisy = clean + sigma[:, None, None, None] * torch.randn(clean.shape, generator=generator)
    weight = (sigma**2 + SIGMA_DATA**2) / (sigma * SIGMA_DATA) ** 2
    return (weight[:, None, None, None] * (model(noisy, sigma) - clean) ** 2).mean()


def noisy_copy(clean: torch.Tensor, sigma01: float, seed: int = 0) -> torch.Tensor:
    """``clean`` ([-1, 1]) plus seeded Gaussian noise of std ``sigma01`` in [0, 1] units."""
    return clean + 2 * sigma01 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(seed))


def denoising_psnr(model, clean: torch.Tensor, sigma01: float, seed: int = 0) -> float:
    """Mean PSNR (data range 1) of the denoiser ``model(x, sigma)`` on ``clean`` ([-1, 1]) plus
    noise of std ``sigma01`` in [0, 1] units (``noisy_copy``)."""
    with torch.no_grad():
        out = model(noisy_copy(clean, sigma01, seed), torch.full((clean.shape[0],), 2 * sigma01))
    return float(psnr(out, clean).mean())


def state_sha256(state: dict) -> str:
    """sha256 of the state dict as torch.save writes it to memory (a file's bytes also depend on
    its name, which torch.save stores in the archive)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def train_demo_prior(seed: int = 0, threads: int = 2, log=print, **overrides) -> tuple[dict, dict]:
    """Train the demo denoiser; returns (EMA state dict, record of data, settings, wall time,
    losses and held-out denoising PSNR)."""
    settings = {**DEFAULTS, **overrides}
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = EDMDenoiser(**DEMO_ARCHITECTURE)
    ema = EDMDenoiser(**DEMO_ARCHITECTURE)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    crops = CropSampler(TRAINING, settings["crop"], seed)
    losses, start = [], time.perf_counter()
    for step in range(settings["steps"]):
        progress = step / settings["steps"]
        scale = min(1.0, (step + 1) / settings["warmup"]) * 0.5 * (1 + math.cos(math.pi * progress))
        for group in optimizer.param_groups:
            group["lr"] = settings["lr"] * scale
        loss = edm_loss(model, crops.batch(settings["batch"]), generator, settings["p_mean"], settings["p_std"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters()):
                e.lerp_(p, 1 - settings["ema"])
        losses.append(loss.item())
        if (step + 1) % 500 == 0 or step + 1 == settings["steps"]:
            log(f"step {step + 1}/{settings['steps']}: loss {np.mean(losses[-500:]):.4f}, "
                f"{time.perf_counter() - start:.0f} s")
    wall = time.perf_counter() - start
    ema.eval()
    held_out = CropSampler(HELD_OUT, settings["crop"], seed + 1).batch(256)
    quality = {s: denoising_psnr(ema, held_out, s) for s in EVAL_SIGMAS}
    state = {k: v.clone() for k, v in ema.state_dict().items()}
    record = dict(
        seed=seed, threads=threads, settings=settings, architecture=DEMO_ARCHITECTURE,
        parameters=sum(p.numel() for p in ema.parameters()), wall_seconds=wall,
        device=f"CPU ({platform.processor() or platform.machine()}), {threads} threads",
        training_photos={name: PHOTOS[name][1] for name in TRAINING},
        held_out_photos={name: PHOTOS[name][1] for name in HELD_OUT},
        loss_first_500=float(np.mean(losses[:500])), loss_last_500=float(np.mean(losses[-500:])),
        held_out_denoising_psnr=quality, state_sha256=state_sha256(state),
        versions={p: metadata.version(p) for p in ("torch", "numpy", "scikit-image", "scikit-learn", "matplotlib")},
    )
    return state, record


def model_card(record: dict) -> str:
    """The model card (Markdown) of a trained demo prior."""
    s = record["settings"]
    psnr = ", ".join(f"sigma {k}: {v:.2f} dB" for k, v in record["held_out_denoising_psnr"].items())
    lines = [
        "# Demo prior: small EDM UNet on bundled photos",
        "",
        "**What it is.** A denoiser D(x, sigma) with EDM preconditioning (sigma_data 0.5, images in [-1, 1]) "
        f"and a compact UNet ({record['parameters']:,} parameters, architecture {record['architecture']}). "
        "It is the prior of the embedded demo, which must run on a laptop CPU with nothing downloaded. "
        "It is **not** the paper's FFHQ/ImageNet model and its numbers are not comparable with the paper's.",
        "",
        f"**Data.** Random {s['crop']}x{s['crop']} crops at 6 scales (whole photo down to native pixels), "
        "random horizontal flips, of the training photos: "
        + ", ".join(f"{n} ({src})" for n, src in record["training_photos"].items()) + ". "
        "Held out, never used in training (the demo's ground truth): "
        + ", ".join(f"{n} ({src})" for n, src in record["held_out_photos"].items()) + ".",
        "",
        f"**Training.** {s['steps']:,} Adam steps, batch {s['batch']}, lr {s['lr']} (warm-up {s['warmup']} "
        f"steps, cosine decay), EDM loss with ln sigma ~ N({s['p_mean']}, {s['p_std']}^2), EMA {s['ema']} "
        f"(saved). Seed {record['seed']}. Wall time {record['wall_seconds'] / 60:.1f} min on {record['device']}. "
        f"Loss {record['loss_first_500']:.3f} (first 500 steps) -> {record['loss_last_500']:.3f} (last 500).",
        "",
        f"**Quality** (held-out crops, 256 of them, noise std in [0, 1] units): denoising PSNR {psnr}.",
        "",
        f"**File.** `demo_edm_unet.pt`, a plain state dict of float32 tensors, sha256 `{record['sha256']}`.",
        "",
        "**Reproduce.** `snakemake train_demo_prior` (writes `results/demo_prior/`); same seed, thread count "
        "and package versions give the same bytes. Versions: "
        + ", ".join(f"{k} {v}" for k, v in record["versions"].items()) + ".",
        "",
        "**Limits.** Trained on 15 photos at 32 px: it knows local image statistics (edges, textures, colours), "
        "not faces or objects; restorations of large missing regions are plausible textures, not content.",
    ]
    return "\n".join(lines) + "\n"
