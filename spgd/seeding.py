"""The seeding policy: every random number of a workflow run comes from the config's ``seed``
and labels, never from batch size, shard, job order or device.

Per image (a batch of four images and four batches of one see the same numbers):
- operator parameters (masks, blur kernels, kernel latents): ``operator_rng(seed, task, image id)``,
  or one draw per task with ``shared`` (image id ``"__shared__"``);
- measurement noise: ``measurement_noise_seed(seed, task, image id)``;
- sampler noise: ``sampler_seed(seed, task, image id, sample_seed, repeat)``, the same for every
  sampler of a table (common random numbers: samplers differ only by their algorithm); a
  sampler's ``sample_seed`` (seed ablations) and repeat r > 0 each add a label, so repeat 0 is the
  same with any number of repeats;
- held-out photo views (the demo data set): ``view_rng(seed, view index)``.

Per set, seeded with ``seed`` itself: the Gaussian-mixture data set (``torch.Generator``), KID's
subsets (``numpy.random.default_rng``). The demo prior's training uses its own
``demo_prior_training.seed`` (weights, noise and crops). Labels are joined into text and hashed
(``derive_seed``), so a seed never depends on Python's hash randomisation.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import torch


def derive_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from a base seed and any labels (task name, image id, purpose...)."""
    text = "/".join([str(int(seed))] + [str(p) for p in parts])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def numpy_rng(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng(derive_seed(seed, *parts))


def operator_rng(seed: int, task: str, image_id: object) -> np.random.Generator:
    return numpy_rng(seed, task, image_id)


def measurement_noise_seed(seed: int, task: str, image_id: object) -> int:
    return derive_seed(seed, task, "noise", image_id)


def sampler_seed(seed: int, task: str, image_id: object, sample_seed: int | None = None, repeat: int = 0) -> int:
    labels = ([] if sample_seed is None else [sample_seed]) + (["repeat", repeat] if repeat else [])
    return derive_seed(seed, "sample", task, image_id, *labels)


def view_rng(seed: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, index])


class NoiseStreams:
    """One independent Gaussian stream per image of a batch.

    ``next(shape)`` returns a ``(B, *shape)`` tensor whose row b comes only from stream b. Draws
    are made in blocks of ``block`` samples per image to keep the number of generator calls low;
    the block size depends only on ``shape``, so the values do not depend on the batch.
    """

    def __init__(self, seeds: Sequence[int], device: torch.device | str = "cpu", dtype=torch.float32):
        self.device = torch.device(device)
        self.dtype = dtype
        self.generators = []
        for s in seeds:
            g = torch.Generator(device=self.device)
            g.manual_seed(int(s) % (2**63))
            self.generators.append(g)
        self._buffers: dict[tuple, tuple[torch.Tensor, int]] = {}

    def __len__(self) -> int:
        return len(self.generators)

    @staticmethod
    def block_size(shape: tuple[int, ...]) -> int:
        numel = int(np.prod(shape))
        return int(max(1, min(64, (1 << 20) // max(numel, 1))))

    def next(self, shape: Sequence[int]) -> torch.Tensor:
        shape = tuple(int(s) for s in shape)
        buffer, used = self._buffers.get(shape, (None, 0))
        block = self.block_size(shape)
        if buffer is None or used == block:
            buffer = torch.stack(
                [
                    torch.randn((block, *shape), generator=g, device=self.device, dtype=self.dtype)
                    for g in self.generators
                ]
            )
            used = 0
        self._buffers[shape] = (buffer, used + 1)
        return buffer[:, used]

    def like(self, x: torch.Tensor) -> torch.Tensor:
        return self.next(x.shape[1:])
