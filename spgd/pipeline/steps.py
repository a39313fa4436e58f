"""One function per workflow job, usable without Snakemake: load a dataset, degrade it, restore
one shard, score a task. Every seed is derived as ``spgd.seeding`` states, so shards never change
results."""

from __future__ import annotations

import platform
import resource
import time
from importlib import metadata
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from ..checkpoints import sha256_of
from ..costs import fitting_batch, prior_cost
from ..data import export_pngs, image_folder, mixture_samples
from ..demo.photos import held_out_views
from ..devices import claimed_device
from ..metrics.evaluate import score_images, score_sets
from ..operators import make_operator
from ..priors import make_prior
from ..priors.speed import with_speed_modes
from ..priors.unet import DEMO_CHECKPOINT
from ..samplers.batching import BATCH_AUTO, sample_in_batches
from ..seeding import sampler_seed
from .config import SamplerSpec
from .fetch import PinMismatch, read_pins
from .files import check_shards, read_result


def load_dataset(spec: dict, seed: int, mixture: dict | None = None, name: str = "") -> tuple[torch.Tensor, list[dict]]:
    """(images (N, C, H, W) in [-1, 1], manifest rows (id, source, sha256)) of the dataset entry
    ``spec`` (schema defaults filled): an ``image_folder``, the demo's ``held_out_photos`` (views
    drawn from ``seed``), or ``mixture_samples`` of the Gaussian-mixture prior ``mixture`` (its
    side must be the entry's ``image_size``). ``name``: the dataset's, for error messages."""
    if spec["kind"] == "image_folder":
        return image_folder(spec["path"], spec["image_size"], spec["start"], spec.get("count"), spec["upscale"])
    if spec["kind"] == "held_out_photos":
        return held_out_views(spec["count"], spec["image_size"], seed, spec["start"])
    prior = make_prior(mixture)
    if prior.shape[-1] != spec["image_size"]:
        raise ValueError(f"dataset {name}: image_size {spec['image_size']} differs from the mixture prior's side "
                         f"{prior.shape[-1]}")
    return mixture_samples(prior, spec["count"], seed, spec["start"])


def degrade(images: torch.Tensor, image_ids: list, task: str, options: dict, seed: int) -> torch.Tensor:
    op = make_operator(task, images.shape[-1], image_ids, seed, channels=images.shape[1], **options)
    with torch.no_grad():
        return op.measure(images)


def preflight(prior_spec: dict, device: str, pin_file=None) -> dict:
    """What the sample jobs of one dataset need, checked once before any of them starts: the
    configured device is usable and the prior's checkpoint loads (present, complete, of the
    architecture, with its sha256, and with the sha256 ``pin_file`` recorded when it was
    fetched). Returns what was found, for results/preflight/."""
    pinned_path = prior_spec.get("checkpoint")
    pinned = read_pins(pin_file).get(pinned_path) if pin_file and pinned_path else None
    pinned_digest = sha256_of(pinned_path) if pinned else None  # before the load: a changed file is named as such
    if pinned and pinned_digest != pinned["sha256"].lower():
        raise PinMismatch(pinned_path, pin_file, pinned["sha256"], pinned_digest)
    with claimed_device(device) as claimed:
        prior = make_prior(prior_spec).to(claimed)
        checkpoint = prior_spec.get("checkpoint") or (DEMO_CHECKPOINT if prior_spec["type"] == "edm_unet" else None)
        return dict(device=str(claimed), device_name=torch.cuda.get_device_name(claimed) if claimed.type == "cuda"
                    else platform.processor() or "cpu", prior=prior_spec["type"],
                    checkpoint=str(checkpoint) if checkpoint else None,
                    # a configured sha256 was checked by the load, a pinned file hashed above: not hashed again
                    sha256=(prior_spec.get("sha256", "").lower() or pinned_digest or sha256_of(checkpoint))
                    if checkpoint else None,
                    parameters=sum(p.numel() for p in prior.parameters()))


def restore_shard(prior_spec: dict, sampler: SamplerSpec, task: str, options, image_ids, measurements, image_size,
                  channels, seed, device="cpu", trace=False, progress_file=None, repeats=1, batch_size=BATCH_AUTO,
                  speed=None):
    """Restore the images ``image_ids`` from their ``measurements``, ``repeats`` times with
    independent sampler noise, in batches of ``batch_size`` images (``auto``: ``auto_batch_size``),
    the prior evaluated with the ``speed`` modes (``spgd.priors.speed``; default: none);
    returns (restored images (repeats, B, C, H, W) on the CPU, stats for stats.json, trace rows of
    the first restoration or None). The device is claimed for the whole job (``claimed_device``);
    the batch size changes no output."""
    with claimed_device(device) as claimed:
        return _restore_on(claimed, prior_spec, sampler, task, options, image_ids, measurements,
                           image_size, channels, seed, trace, progress_file, repeats, batch_size, speed)


def auto_batch_size(prior_spec: dict, image_shape: tuple, device: torch.device, images: int, gradient: bool) -> int:
    """The images per sampler call that ``batch_size: auto`` takes: all ``images`` on the CPU; on
    CUDA the largest batch whose predicted peak memory (``spgd.costs``) fits the device's free
    memory, with the prior already loaded there and the margin ``spgd.costs.fitting_batch`` states,
    in whole blocks of the prior's ``network_batch`` (one block when none fits: the back-off
    decides). ``gradient``: the sampler takes input gradients (DAPS does not and fits far more)."""
    if device.type != "cuda":
        return images
    cost = prior_cost(prior_spec, image_shape)
    return max(min(cost.block, images), fitting_batch(cost, torch.cuda.mem_get_info(device)[0], gradient=gradient,
                                                      limit=images))


def _restore_on(device, prior_spec, sampler, task, options, image_ids, measurements, image_size, channels, seed,
                trace, progress_file, repeats, batch_size, speed):
    prior = with_speed_modes(make_prior(prior_spec).to(device), speed)
    operator_for = lambda positions: make_operator(task, image_size, [image_ids[p] for p in positions], seed,
                                                   channels=channels, **options).to(device)
    algorithm = sampler.build(prior, task)
    requested = batch_size
    if batch_size == BATCH_AUTO:
        batch_size = auto_batch_size(prior_spec, (channels, image_size, image_size), device, len(image_ids),
                                     gradient=algorithm.planned_nfe[1] > 0)
    log = (lambda message: print(message, file=progress_file)) if progress_file else (lambda message: None)
    log(f"{sampler.name} {task}: {len(image_ids)} images in batches of {batch_size} (batch_size {requested})")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    results, used = [], []
    with tqdm(total=algorithm.total_steps * repeats * len(image_ids), desc=f"{sampler.name} {task}",
              file=progress_file, disable=progress_file is None, mininterval=5, unit="image-step") as bar:
        for repeat in range(repeats):
            seeds = [sampler_seed(seed, task, i, sampler.sample_seed, repeat) for i in image_ids]
            result, batch_size = sample_in_batches(algorithm, operator_for, measurements.to(device), seeds, batch_size,
                                                   trace=trace and repeat == 0, progress=bar.update, log=log)
            results.append(result)
            used.append(batch_size)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - start
    stats = dict(
        task=task, images=list(image_ids), repeats=repeats, nfe_forward=results[0].nfe_forward,
        nfe_backward=results[0].nfe_backward, wall_seconds=wall, device=str(device), threads=torch.get_num_threads(),
        batch_size=used, peak_memory_bytes=(torch.cuda.max_memory_allocated(device) if device.type == "cuda"
                                            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
        diverged=[r.diverged.tolist() for r in results], diverged_step=[r.diverged_step.tolist() for r in results],
        sampler=sampler.name, variant=sampler.variant, settings=sampler.settings(task), sample_seed=sampler.sample_seed,
        versions=versions(),
    )
    restored = torch.stack([r.x.cpu() for r in results])
    return restored, stats, (results[0].trace.rows(image_ids) if trace else None)


def versions() -> dict:
    out = {"python": platform.python_version()}
    for package in ("torch", "numpy", "spgd", "deepinv", "snakemake"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out


def score_task(images_file, shards: dict[str, list], keys: dict, per_image: list[str], per_set: list[str],
               hub_dir, unavailable: dict[str, str], png_dir, truth_png, repeats: int, seed: int, shard_size: int,
               log=lambda message: None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every metric of one task for every sampler, in one process (each metric network loaded
    once): (per-image rows, per-set rows), each with ``keys`` (dataset, task) and the sampler.
    ``shards``: {sampler: its restored shard files, in shard order}, each checked to hold its
    ``shard_size`` images ``repeats`` times (``check_shards``); restorations are written as 8-bit
    PNGs to ``png_dir/SAMPLER/rREPEAT`` (None: not written; no set metrics then) for FID and KID
    against the PNGs in ``truth_png``."""
    from ..reporting.summary import PER_IMAGE_COLUMNS, SET_COLUMNS  # scipy.stats: not for the sample jobs

    data = read_result(images_file, ("images", "ids"))
    if png_dir is None and per_set:
        raise ValueError(f"set metrics {per_set} need the restorations as PNGs: give png_dir")
    png_dir, image_rows, set_rows = None if png_dir is None else Path(png_dir), [], []
    truth_features = {}  # the ground truth's Inception features, once for every sampler
    for sampler, paths in shards.items():
        labels = {**keys, "sampler": sampler}
        loaded = [read_result(path, ("x", "ids", "diverged_step")) for path in paths]
        check_shards([(path, shard["ids"], len(shard["x"])) for path, shard in zip(paths, loaded)], data["ids"],
                     shard_size, repeats)
        ids = data["ids"]
        x = torch.cat([shard["x"] for shard in loaded], dim=1)  # (repeats, images, C, H, W) in data set order
        steps = torch.cat([shard["diverged_step"] for shard in loaded], dim=1)
        image_rows += [{**labels, **row} for row in score_images(x, data["images"], ids, per_image, hub_dir, unavailable,
                                                                  diverged_step=steps)]
        for repeat, images in enumerate(x if png_dir is not None else []):
            export_pngs(images, ids, png_dir / sampler / f"r{repeat}")
        if per_set:
            folders = [png_dir / sampler / f"r{repeat}" for repeat in range(repeats)]
            for row in score_sets(folders, truth_png, per_set, hub_dir, unavailable, seed=seed,
                                  truth_features=truth_features):
                set_rows.append({**labels, **row})
                log(f"{sampler} repeat {row['repeat']} {row['metric']}: {row['value']:.5g} on {row['n']} images "
                    f"{row['unavailable']}")
    # samplers in one order whatever order the workflow passed their shards in
    by_sampler = lambda rows, columns: pd.DataFrame(rows, columns=columns).sort_values("sampler", kind="stable",
                                                                                       ignore_index=True)
    return by_sampler(image_rows, PER_IMAGE_COLUMNS), by_sampler(set_rows, SET_COLUMNS)
