"""Sampling a set of images in batches that fit the device, with a back-off when they do not.

A sampler's arithmetic is per image (per-image noise streams, per-image losses and step sizes,
priors whose kernels do not mix images), so the batches only decide speed and memory: the same
images come out of batches of 1, 2, 4 or all of them (``tests/test_batching.py``, bit for bit on
the CPU). When CUDA runs out of memory, the batch is halved, the cache freed and the batch run
again from its start; the size that worked is kept for the batches after it.
"""

from __future__ import annotations

import gc
from typing import Callable, Sequence

import torch

from .base import AngleTrace, SampleResult, Sampler

BATCH_AUTO = "auto"


class BatchedTrace:
    """The angle traces of consecutive batches, read as one: ``rows(image_ids)`` gives the rows a
    single batch of all images would (record by record, images in order within each record)."""

    def __init__(self, traces: list[AngleTrace], sizes: list[int]):
        self.traces, self.sizes = traces, sizes

    def rows(self, image_ids: Sequence[object] | None = None) -> list[dict]:
        per_batch, start = [], 0
        for trace, size in zip(self.traces, self.sizes):
            ids = None if image_ids is None else list(image_ids[start:start + size])
            rows = trace.rows(ids)
            if image_ids is None:  # batch-local positions become positions in the whole set
                rows = [{**row, "image": row["image"] + start} for row in rows]
            per_batch.append([rows[r:r + size] for r in range(0, len(rows), size)])
            start += size
        return [row for records in zip(*per_batch) for record in records for row in record]


def _free_device_cache() -> None:
    gc.collect()  # the failed batch's tensors, held by the exception's frames until now
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def sample_in_batches(sampler: Sampler, operator_for: Callable[[list[int]], object], y: torch.Tensor,
                      seeds: Sequence[int], batch_size: int, trace: bool = False,
                      progress: Callable[[int], object] | None = None,
                      log: Callable[[str], object] = lambda message: None) -> tuple[SampleResult, int]:
    """Restore the images of ``y`` (B, ...) with ``sampler`` in batches of at most ``batch_size``;
    returns (the result of all B images, as one ``sample`` call would give it, and the batch size
    that worked). ``operator_for(positions)`` builds the operator of those images (positions in
    ``y``); ``seeds`` are the per-image noise seeds; ``progress`` is called with the number of images
    that advanced one step (undone when a batch is run again after running out of memory)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    progress = progress or (lambda n: None)
    results, start, size = [], 0, min(batch_size, y.shape[0])
    while start < y.shape[0]:
        positions = list(range(start, min(start + size, y.shape[0])))
        advanced = 0

        def count(steps: int) -> None:
            nonlocal advanced
            advanced += steps * len(positions)
            progress(steps * len(positions))

        try:
            results.append(sampler.sample(operator_for(positions), y[positions], [seeds[p] for p in positions],
                                          trace=trace, progress=count))
        except torch.OutOfMemoryError:
            if len(positions) == 1:
                raise
            failed = len(positions)
        else:
            start += len(positions)
            continue
        progress(-advanced)
        size = failed // 2
        _free_device_cache()
        log(f"out of memory at a batch of {failed} images; running batches of {size} from image {start}")
    first = results[0]
    merged = SampleResult(
        torch.cat([r.x for r in results]), torch.cat([r.diverged_step for r in results]), first.nfe_forward,
        first.nfe_backward, BatchedTrace([r.trace for r in results], [len(r.x) for r in results]) if trace else None)
    return merged, size
