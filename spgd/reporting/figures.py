"""Figures: ablation curves and the gradient-angle figure (spec section 7)."""

from __future__ import annotations

import pandas as pd

from ..metrics import LABELS

ANGLE_COLUMNS = {
    "angle_prior_likelihood": ("angle(g_d, g_l)", "tab:blue"),
    "angle_likelihood_consecutive": ("angle(g_l at t, g_l at t-1)", "tab:orange"),
    "angle_prior_consecutive": ("angle(g_d at t, g_d at t-1)", "tab:green"),
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panel_grid(rows: list, columns: list, draw, path, panel_height: float, sharey: bool = False) -> None:
    """A rows x columns grid of panels, ``draw(axis, row, column)`` for each, legend in the first."""
    plt = _pyplot()
    figure, axes = plt.subplots(max(len(rows), 1), max(len(columns), 1), squeeze=False, sharey=sharey,
                                figsize=(4 * max(len(columns), 1), panel_height * max(len(rows), 1)))
    for r, row in enumerate(rows):
        for c, column in enumerate(columns):
            draw(axes[r][c], row, column)
            axes[r][c].grid(alpha=0.3)
    if rows and columns:
        axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_ablations(table: pd.DataFrame, path) -> None:
    """One panel per (ablation, metric): mean against the grid value, one line per task; metrics
    with no value (unavailable) get no panel."""

    def draw(axis, ablation, metric):
        part = table[(table["ablation"] == ablation) & (table["metric"] == metric)]
        labels = [str(v) for v in dict.fromkeys(part["value"])]
        for (dataset, task), rows in part.groupby(["dataset", "task"], sort=False):
            axis.errorbar(range(len(rows)), rows["mean"], yerr=rows["std"], marker="o", capsize=2,
                          label=f"{dataset}/{task}")
        axis.set_xticks(range(len(labels)), labels)
        axis.set_xlabel(ablation)
        axis.set_ylabel(LABELS[metric])

    metrics = list(dict.fromkeys(table.loc[table["mean"].notna(), "metric"]))
    _panel_grid(list(dict.fromkeys(table["ablation"])), metrics, draw, path, 3)


def plot_angles(trace: pd.DataFrame, path) -> None:
    """Panels (rows: samplers, columns: tasks) of the three gradient angles, mean over images, against
    sampling progress (first step 0, last step 1; step-level records only)."""
    steps = trace[trace["level"] == "step"]

    def draw(axis, sampler, task):
        part = steps[(steps["sampler"] == sampler) & (steps["task"] == task)]
        mean = part.groupby("step")[list(ANGLE_COLUMNS)].mean()
        progress = mean.index / max(mean.index.max(), 1)
        for column, (label, colour) in ANGLE_COLUMNS.items():
            axis.plot(progress, mean[column], color=colour, label=label, linewidth=1)
        axis.set_title(f"{sampler} / {task}", fontsize=9)
        axis.set_ylim(0, 180)
        axis.set_xlabel("sampling progress")
        axis.set_ylabel("degrees")

    _panel_grid(list(dict.fromkeys(steps["sampler"])), list(dict.fromkeys(steps["task"])), draw, path, 2.8, sharey=True)
