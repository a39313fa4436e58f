"""Figures: ablation curves and the gradient-angle figure (spec section 7)."""

from __future__ import annotations

import pandas as pd

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


def plot_ablations(table: pd.DataFrame, path) -> None:
    """One panel per (ablation, metric): mean against the grid value, one line per task."""
    plt = _pyplot()
    ablations, metrics = list(dict.fromkeys(table["ablation"])), list(dict.fromkeys(table["metric"]))
    figure, axes = plt.subplots(max(len(ablations), 1), max(len(metrics), 1), squeeze=False,
                                figsize=(4 * max(len(metrics), 1), 3 * max(len(ablations), 1)))
    for r, ablation in enumerate(ablations):
        for c, metric in enumerate(metrics):
            axis = axes[r][c]
            part = table[(table["ablation"] == ablation) & (table["metric"] == metric)]
            labels = [str(v) for v in dict.fromkeys(part["value"])]
            for (dataset, task), rows in part.groupby(["dataset", "task"], sort=False):
                axis.errorbar(range(len(rows)), rows["mean"], yerr=rows["std"], marker="o", capsize=2,
                              label=f"{dataset}/{task}")
            axis.set_xticks(range(len(labels)), labels)
            axis.set_xlabel(ablation)
            axis.set_ylabel(metric.upper())
            axis.grid(alpha=0.3)
    if ablations:
        axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_angles(trace: pd.DataFrame, path) -> None:
    """Panels (rows: runs, columns: tasks) of the three gradient angles, mean over images, against
    sampling progress (first step 0, last step 1; step-level records only)."""
    plt = _pyplot()
    steps = trace[trace["level"] == "step"]
    runs, tasks = list(dict.fromkeys(steps["run"])), list(dict.fromkeys(steps["task"]))
    figure, axes = plt.subplots(max(len(runs), 1), max(len(tasks), 1), squeeze=False, sharey=True,
                                figsize=(4 * max(len(tasks), 1), 2.8 * max(len(runs), 1)))
    for r, run in enumerate(runs):
        for c, task in enumerate(tasks):
            axis = axes[r][c]
            part = steps[(steps["run"] == run) & (steps["task"] == task)]
            mean = part.groupby("step")[list(ANGLE_COLUMNS)].mean()
            progress = mean.index / max(mean.index.max(), 1)
            for column, (label, colour) in ANGLE_COLUMNS.items():
                axis.plot(progress, mean[column], color=colour, label=label, linewidth=1)
            axis.set_title(f"{run} / {task}", fontsize=9)
            axis.set_ylim(0, 180)
            axis.set_xlabel("sampling progress")
            axis.set_ylabel("degrees")
            axis.grid(alpha=0.3)
    if runs:
        axes[0][0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
