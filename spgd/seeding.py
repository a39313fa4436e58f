"""Per-image randomness that depends only on (seed, purpose, image id), never on batching.

Every random draw of a run (masks, blur kernels, measurement noise, sampler noise) comes from a
generator seeded by ``derive_seed``; a batch of four images and four batches of one therefore
see the same numbers.
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
