"""One workflow step each, usable without Snakemake: degrade a dataset, restore one shard.

Seeds: operator parameters and measurement noise come from (seed, task, image id); sampler noise
from (seed, "sample", task, image id), the same for every sampler configuration (common random
numbers), so runs differ only by their algorithm and shards never change results. With several
restorations per image (``repeats``), restoration r > 0 adds ("repeat", r) to the sampler seed.
"""

from __future__ import annotations

import platform
import resource
import time
from importlib import metadata

import torch
from tqdm import tqdm

from ..devices import claimed_device
from ..operators import make_operator
from ..priors import make_prior
from ..samplers import make_sampler
from ..seeding import derive_seed


def degrade(images: torch.Tensor, image_ids: list, task: str, options: dict, seed: int) -> torch.Tensor:
    op = make_operator(task, images.shape[-1], image_ids, seed, channels=images.shape[1], **options)
    with torch.no_grad():
        return op.measure(images)


def sampler_settings(sampler_spec: dict, task: str) -> dict:
    return {**sampler_spec.get("params", {}), **sampler_spec.get("task_params", {}).get(task, {})}


def shard_indices(total: int, shard: int, shard_size: int) -> list[int]:
    return list(range(shard * shard_size, min(total, (shard + 1) * shard_size)))


def restore_shard(prior_spec, sampler_spec, task, options, image_ids, measurements, image_size,
                  channels, seed, device="cpu", trace=False, progress_file=None, repeats=1):
    """Restore the images ``image_ids`` from their ``measurements``, ``repeats`` times with
    independent sampler noise; returns (restored images (repeats, B, C, H, W) on the CPU, stats for
    stats.json, trace rows of the first restoration or None). The device is claimed for the whole
    job (``claimed_device``)."""
    with claimed_device(device) as claimed:
        return _restore_on(claimed, prior_spec, sampler_spec, task, options, image_ids, measurements,
                           image_size, channels, seed, trace, progress_file, repeats)


def _restore_on(device, prior_spec, sampler_spec, task, options, image_ids, measurements, image_size,
                channels, seed, trace, progress_file, repeats):
    prior = make_prior(prior_spec).to(device)
    op = make_operator(task, image_size, image_ids, seed, channels=channels, **options).to(device)
    recorded = sampler_settings(sampler_spec, task)
    settings = dict(recorded)
    # sample_seed (seed ablations) gives a run its own sampler noise; by default all runs share it
    sample_seed = settings.pop("sample_seed", None)
    extra = () if sample_seed is None else (sample_seed,)
    sampler = make_sampler(sampler_spec["variant"], prior, **settings)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    results = []
    with tqdm(total=sampler.total_steps * repeats, desc=f"{sampler_spec['variant']} {task}", file=progress_file,
              disable=progress_file is None, mininterval=5) as bar:
        for repeat in range(repeats):
            seeds = [derive_seed(seed, "sample", task, i, *extra, *(("repeat", repeat) if repeat else ()))
                     for i in image_ids]
            results.append(sampler.sample(op, measurements.to(device), seeds, trace=trace and repeat == 0,
                                          progress=bar.update))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall = time.perf_counter() - start
    stats = dict(
        images=list(image_ids), repeats=repeats, nfe_forward=results[0].nfe_forward,
        nfe_backward=results[0].nfe_backward, wall_seconds=wall, device=str(device),
        peak_memory_bytes=(torch.cuda.max_memory_allocated(device) if device.type == "cuda"
                           else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
        diverged=[r.diverged.tolist() for r in results], diverged_step=[r.diverged_step.tolist() for r in results],
        sampler=sampler_spec["variant"], settings=recorded,
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
