"""Exactness table: every sampler against the closed-form posterior of a Gaussian-mixture prior.

For each linear task (at 8x8 px, one channel) one ground truth is drawn from the mixture and
measured; each sampler then draws ``samples`` restorations of that one measurement. Columns:
mean error (distance of the sample mean from the exact posterior mean, in units of the total
posterior std), std ratio (median over pixels of sample std / exact posterior std; 1 is exact),
residual ratio (||A x - y|| / (sigma_y sqrt(m)); exact posterior draws give about 1).
Synthetic data and reduced steps: a check of the samplers, not the paper's experiment.

    python -m spgd.exactness --csv results/tables/exactness.csv --html reports/exactness.html
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from .operators import make_operator
from .priors import operator_matrix, smooth_mixture
from .samplers import make_sampler

SIDE = 8
NOISE_SIGMA = 0.05
TASKS = {
    "sr4": {},
    "box_inpainting": {},
    "random_inpainting": {},
    "gaussian_blur": dict(kernel_size=5, std=1.0),
    "motion_blur": dict(kernel_size=5),
}
# row label -> settings; ``variant`` names the sampler variant where it is not the label. DPS-GM
# at DPS's cost: 200 steps of 5 iterations.
SAMPLERS = {
    "dps": dict(steps=1000, zeta=0.5, clip_x0=False),
    "dps_gm": dict(steps=200, warmup=5, zeta=0.5, clip_x0=False, adm="applied"),
    "dps_gm_no_adm": dict(variant="dps_gm", steps=200, warmup=5, zeta=0.5, clip_x0=False, adm="off"),
    "daps": dict(steps=100, langevin_steps=50, lr=1e-4),
    "spgd": dict(steps=100, warmup=5, lr=1.0),
    "spgd_adm": dict(steps=100, warmup=5, lr=1.0),
    "spgd_no_warmup": dict(steps=100, lr=1.0),
    "spgd_no_adm": dict(steps=100, warmup=5, lr=1.0),
}
COLUMNS = ("task", "sampler", "mean_error", "std_ratio", "residual_ratio", "seconds")


def moments_error(x: torch.Tensor, mixture) -> tuple[float, float]:
    """(distance of the sample mean from the mixture mean in units of its total std, median over
    pixels of sample std / mixture std)."""
    flat = x.reshape(x.shape[0], -1).double()
    cov = mixture.covariance()
    mean_error = (flat.mean(0) - mixture.mean()).norm() / cov.trace().sqrt()
    return float(mean_error), float((flat.std(0) / cov.diagonal().sqrt()).median())


def residual_ratio(x: torch.Tensor, y: torch.Tensor, op, noise_sigma: float = NOISE_SIGMA) -> float:
    """Mean over images of ||A x - y|| / (noise_sigma sqrt(m)); about 1 for exact posterior draws."""
    residual = (op(x) - y).reshape(x.shape[0], -1).norm(dim=1).mean()
    return float(residual / (noise_sigma * y[0].numel() ** 0.5))


def summarise(x: torch.Tensor, y: torch.Tensor, op, posterior) -> dict:
    mean_error, std_ratio = moments_error(x, posterior)
    return dict(mean_error=mean_error, std_ratio=std_ratio, residual_ratio=residual_ratio(x, y, op))


def exactness_rows(samples: int = 128, seed: int = 0, samplers: dict | None = None) -> list[dict]:
    """One row per (task, sampler) plus an "exact posterior" row per task; ``samplers`` maps
    row labels to settings, a ``variant`` key naming the variant where it is not the label
    (default: SAMPLERS)."""
    samplers = SAMPLERS if samplers is None else samplers
    prior = smooth_mixture(SIDE)
    rows = []
    for task, options in TASKS.items():
        opts = dict(channels=1, shared=True, noise_sigma=NOISE_SIGMA, seed=seed, **options)
        single = make_operator(task, SIDE, [0], **opts)
        truth = prior.sample(1, torch.Generator().manual_seed(seed))
        y = single.measure(truth)
        posterior = prior.posterior(operator_matrix(single, prior.shape), y, NOISE_SIGMA)
        op = make_operator(task, SIDE, list(range(samples)), **opts)
        y_batch = y.expand(samples, *y.shape[1:]).contiguous()
        exact = posterior.sample(samples, torch.Generator().manual_seed(seed + 1))
        rows.append(dict(task=task, sampler="exact posterior", **summarise(exact, y_batch, op, posterior), seconds=0.0))
        for name, params in samplers.items():
            params = dict(params)
            variant = params.pop("variant", name)
            start = time.perf_counter()
            result = make_sampler(variant, prior, **params).sample(op, y_batch, list(range(samples)))
            rows.append(dict(task=task, sampler=name, **summarise(result.x, y_batch, op, posterior),
                             seconds=time.perf_counter() - start))
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    lines = [",".join(COLUMNS)] + [
        ",".join(f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c]) for c in COLUMNS) for r in rows
    ]
    path.write_text("\n".join(lines) + "\n")


def write_html(rows: list[dict], path: Path, samples: int) -> None:
    from .reporting.report import page

    cells = [[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in COLUMNS] for r in rows]
    path.write_text(page("exactness.html.j2", samples=samples, description=__doc__.split("\n\n")[1],
                         columns=COLUMNS, rows=cells))


def _write_atomically(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    write(partial)
    partial.replace(path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--html", type=Path)
    args = parser.parse_args(argv)
    rows = exactness_rows(args.samples, args.seed)
    if args.csv:
        _write_atomically(args.csv, lambda p: write_csv(rows, p))
    if args.html:
        _write_atomically(args.html, lambda p: write_html(rows, p, args.samples))
    for r in rows:
        print(f"{r['task']:18s} {r['sampler']:16s} mean_error {r['mean_error']:.3f}  std_ratio "
              f"{r['std_ratio']:.3f}  residual_ratio {r['residual_ratio']:.3f}  {r['seconds']:.1f}s")


if __name__ == "__main__":
    main()
