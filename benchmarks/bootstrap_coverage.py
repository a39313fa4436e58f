"""Coverage of the tables' bootstrap intervals on synthetic paired data, by number of images.

Per-image differences are drawn with a known mean (normal, and skewed: exponential); each trial
computes the interval exactly as the tables do (``spgd.reporting.statistics.paired_difference``)
and counts whether it covers the true mean. Prints one row per number of images.

    python benchmarks/bootstrap_coverage.py [--trials 1000] [--resamples 10000]
"""

import argparse

import numpy as np
import pandas as pd

from spgd.reporting.statistics import Comparison, paired_difference

DRAWS = {"normal": lambda rng, n: rng.normal(0.5, 1.0, n), "exponential": lambda rng, n: rng.exponential(0.5, n)}


def coverage(n: int, draw, trials: int, comparison: Comparison, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    covered = 0
    for trial in range(trials):
        reference = pd.Series(rng.normal(25.0, 2.0, n))
        found = paired_difference(reference + draw(rng, n), reference, comparison, n, trial)
        covered += found["difference_low"] <= 0.5 <= found["difference_high"]
    return covered / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--images", type=int, nargs="+", default=[4, 10, 20, 50, 100])
    args = parser.parse_args()
    comparison = Comparison(resamples=args.resamples)
    print(f"coverage of {comparison.confidence:.0%} BCa intervals, {args.trials} trials, {args.resamples} resamples")
    print("images | " + " | ".join(DRAWS))
    for n in args.images:
        print(f"{n} | " + " | ".join(f"{coverage(n, draw, args.trials, comparison):.3f}" for draw in DRAWS.values()))


if __name__ == "__main__":
    main()
