"""Paired statistics over images.

Every sampler restores the same images from the same measurements, so two samplers are compared
image by image: the unit is the image (with several repeats, its mean over the repeats that did
not diverge), an image counts when both samplers have a finite value for it. The mean per-image
difference gets a bootstrap confidence interval (scipy's BCa, images resampled, seeded per
comparison) and a Wilcoxon signed-rank test (scipy, exact below 50 images)."""

from __future__ import annotations

import dataclasses
import math
import zlib

import numpy as np
import pandas as pd

# Resamples for the bootstrap: the Monte Carlo error of a 95 % bound is then about 1.4 % of the
# interval's half-width (tests/test_statistics.py measures that bounds agree to the shown digits).
RESAMPLES = 10_000


@dataclasses.dataclass(frozen=True)
class Comparison:
    """How samplers are compared: each with ``reference`` (None: with no sampler) and each with its
    column's best; intervals at ``confidence``, tests at level 1 - ``confidence``."""

    reference: str | None = None
    confidence: float = 0.95
    resamples: int = RESAMPLES
    seed: int = 0

    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    def rng(self, *names) -> np.random.Generator:
        """The bootstrap's generator for one comparison: from the seed and the comparison's names
        only, so results do not depend on which comparisons run or in what order."""
        return np.random.default_rng([self.seed, zlib.crc32("\0".join(map(str, names)).encode())])


def paired_difference(values: pd.Series, reference: pd.Series, comparison: Comparison, *names,
                      interval: bool = True) -> dict:
    """Mean of ``values - reference`` over the images (index) both have with finite values, its
    bootstrap interval (unless not ``interval``; ``names`` seed it) and the Wilcoxon signed-rank
    p-value; NaN where fewer than 2 images pair up."""
    from scipy import stats  # imported here: every workflow start reads this module, few compare

    difference = (values - reference).dropna()
    difference = difference[np.isfinite(difference)].to_numpy(dtype=float)
    n = len(difference)
    out = dict(paired_n=n, difference=difference.mean() if n else math.nan, difference_low=math.nan,
               difference_high=math.nan, p=math.nan)
    if n < 2:
        return out
    if interval and np.all(difference == difference[0]):  # the bootstrap distribution is a point
        out.update(difference_low=difference[0], difference_high=difference[0])
    elif interval:
        bounds = stats.bootstrap((difference,), np.mean, n_resamples=comparison.resamples,
                                 confidence_level=comparison.confidence, method="BCa",
                                 rng=comparison.rng(*names)).confidence_interval
        out.update(difference_low=bounds.low, difference_high=bounds.high)
    # all differences zero: nothing to rank, no evidence of a difference
    out["p"] = 1.0 if not difference.any() else stats.wilcoxon(difference).pvalue
    return out


def smallest_p(n: int) -> float:
    """The smallest two-sided p-value the exact Wilcoxon signed-rank test can give on ``n`` pairs."""
    return min(1.0, 2.0 / 2**n)
