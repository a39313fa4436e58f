"""Figures: ablation curves, quality against cost, the gradient-angle figure and the stability
profile of a step-size sweep."""

from __future__ import annotations

import pandas as pd

from ..metrics import HIGHER_IS_BETTER, LABELS

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


def _save_with_note(figure, path, note: str) -> None:
    """Save ``figure``, with ``note`` (what it leaves out and why) wrapped below the panels."""
    if note:
        import textwrap

        width = figure.get_size_inches()[0]
        text = "\n".join(textwrap.wrap(note, max(int(width * 14), 40)))
        figure.text(0.01, 0.005, text, fontsize=8, va="bottom", ha="left", wrap=True)
        figure.tight_layout(rect=(0, 0.04 + 0.03 * text.count("\n"), 1, 1))
    else:
        figure.tight_layout()
    figure.savefig(path, dpi=100)
    _pyplot().close(figure)


def _panel_grid(rows: list, columns: list, draw, path, panel_height: float, sharey: bool = False,
                legend: bool = True, note: str = "") -> None:
    """A rows x columns grid of panels, ``draw(axis, row, column)`` for each, the legend in the first
    (``legend``: drawn here from the artists' labels; else ``draw`` draws it); ``note`` below. With
    no rows or columns, one empty panel that says there is nothing to plot."""
    plt = _pyplot()
    figure, axes = plt.subplots(max(len(rows), 1), max(len(columns), 1), squeeze=False, sharey=sharey,
                                figsize=(4 * max(len(columns), 1), panel_height * max(len(rows), 1)))
    for r, row in enumerate(rows):
        for c, column in enumerate(columns):
            draw(axes[r][c], row, column)
            axes[r][c].grid(alpha=0.3)
    if rows and columns and legend:
        axes[0][0].legend(fontsize=7)
    if not (rows and columns):
        _nothing_to_plot(axes[0][0])
    _save_with_note(figure, path, note)


def _nothing_to_plot(axis) -> None:
    axis.text(0.5, 0.5, "nothing to plot", ha="center", va="center", transform=axis.transAxes)
    axis.set_axis_off()


def ablation_scores(per_image: pd.DataFrame, per_set: pd.DataFrame | None,
                    ablations: dict[str, list[tuple[object, str]]]) -> pd.DataFrame:
    """The scores behind the ablation curves: per point (ablation, value) and per dataset, task and
    metric one row per image (its mean over the repeats that did not diverge) and, for FID and
    KID, one per repeat."""
    per_set = per_set if per_set is not None else pd.DataFrame(columns=["sampler", "value"])
    units = [per_image[~per_image["diverged"].astype(bool)].groupby(
                 ["dataset", "task", "sampler", "metric", "image"], sort=False)["value"].mean().reset_index(),
             per_set[["dataset", "task", "sampler", "metric", "value"]] if len(per_set) else None]
    scores = pd.concat([u for u in units if u is not None], ignore_index=True).dropna(subset=["value"])
    parts = [scores[scores["sampler"] == sampler].assign(ablation=name, point=str(value), position=i)
             for name, points in ablations.items() for i, (value, sampler) in enumerate(points)]
    columns = ["ablation", "point", "position", "dataset", "task", "metric", "value"]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def plot_ablations(scores: pd.DataFrame, path, seed: int = 0, note: str = "") -> None:
    """One panel per (ablation, metric) of ``ablation_scores``: the mean against the grid value, one
    line per dataset and task, with seaborn's 95 % bootstrap band across images (FID, KID: across
    repeats); metrics with no value (unavailable, or every restoration diverged) get no panel, and
    a point none of whose restorations survived no marker. ``note`` goes below the panels (say
    there what was left out)."""
    import seaborn

    def draw(axis, ablation, metric):
        part = scores[(scores["ablation"] == ablation) & (scores["metric"] == metric)]
        part = part.assign(curve=part["dataset"] + "/" + part["task"])
        seaborn.lineplot(part, x="position", y="value", hue="curve", marker="o", errorbar=("ci", 95), n_boot=1000,
                         seed=seed, ax=axis, legend=(ablation, metric) == (rows[0], metrics[0]))
        labels = part.drop_duplicates("position").sort_values("position")
        axis.set_xticks(labels["position"].tolist(), labels["point"].tolist())
        axis.set_xlabel(ablation)
        axis.set_ylabel(LABELS[metric])

    rows, metrics = list(dict.fromkeys(scores["ablation"])), list(dict.fromkeys(scores["metric"]))
    _panel_grid(rows, metrics, draw, path, 3, legend=False, note=note)


def quality_metric(metrics: list[str]) -> str:
    """The metric of the quality-vs-cost plot: PSNR when computed, else the first of ``metrics``."""
    return "psnr" if "psnr" in metrics else metrics[0]


def plot_quality_cost(tidy: pd.DataFrame, cost: pd.DataFrame, metric: str, path, tasks: list[str] | None = None,
                      samplers: list[str] | None = None, note: str = "") -> None:
    """``metric``'s mean against wall seconds per restoration (log scale), one point per sampler,
    one panel per dataset and task; tasks and samplers in the orders given (seaborn). A sampler
    with no value (every restoration diverged) has no point: say so in ``note``, shown below."""
    import seaborn
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    _pyplot()
    points = tidy[tidy["metric"] == metric].merge(cost, on=["dataset", "task", "sampler"])
    rank = {task: i for i, task in enumerate(tasks or [])}
    points = points.dropna(subset=["mean"])
    if points.empty:  # one panel that says so
        _panel_grid([], [], None, path, 3, note=note)
        return
    points = points.assign(panel=points["dataset"] + " / " + points["task"], rank=points["task"].map(rank))
    points = points.sort_values(["dataset", "rank"], kind="stable")
    order = [s for s in samplers or [] if s in set(points["sampler"])] or None
    grid = seaborn.relplot(points, x="seconds_per_restoration", y="mean", hue="sampler", style="sampler",
                           hue_order=order, style_order=order, col="panel",
                           col_wrap=min(4, max(points["panel"].nunique(), 1)), kind="scatter", s=60, height=2.8,
                           facet_kws=dict(sharey=False))
    grid.set(xscale="log")
    for axis in grid.axes.flat:  # plain numbers, no crowded labels on the minor ticks
        axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        axis.xaxis.set_minor_formatter(NullFormatter())
    better = "higher" if HIGHER_IS_BETTER[metric] else "lower"
    grid.set_axis_labels("seconds per restoration", f"{LABELS[metric]} ({better} is better)")
    grid.set_titles("{col_name}")
    _save_with_note(grid.figure, path, note)


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


def plot_stability(points: pd.DataFrame, choices: list[dict], path) -> None:
    """Panels (rows: datasets, columns: tasks) of a sweep's mean PSNR against the step size as a
    factor of the configured one (log2 axis), one line per sampler, the band spanning the lowest and
    highest image, a cross where a restoration diverged (at the bottom when every one did) and a
    filled circle at the chosen step size (``points``: ``spgd.tuning.profile``; ``choices``:
    ``spgd.tuning.choose``)."""
    import numpy as np

    choice = {(c["dataset"], c["task"], c["sampler"]): c for c in choices}
    datasets, tasks = list(dict.fromkeys(points["dataset"])), list(dict.fromkeys(points["task"]))

    def draw(axis, dataset, task):
        panel = points[(points["dataset"] == dataset) & (points["task"] == task)]
        bottom = np.nanmin(panel["image_low"]) if panel["image_low"].notna().any() else 0.0
        for index, (sampler, line) in enumerate(panel.groupby("sampler", sort=False)):
            chosen = choice[(dataset, task, sampler)]
            factor = line["step_size"] / chosen["configured"]
            colour = f"C{index}"
            axis.plot(factor, line["mean"], marker="o", markersize=3, color=colour, label=sampler, linewidth=1)
            axis.fill_between(factor, line["image_low"], line["image_high"], color=colour, alpha=0.15, linewidth=0)
            diverged = line["divergence_rate"] > 0
            axis.scatter(factor[diverged], line["mean"][diverged].fillna(bottom), marker="x", color=colour, s=40,
                         zorder=3)
            at = np.isclose(line["step_size"], chosen["selected"])
            axis.scatter(factor[at], line["mean"][at], s=60, color=colour, edgecolor="black", zorder=4)
        axis.set_xscale("log", base=2)
        axis.set_title(f"{dataset} / {task}", fontsize=9)
        axis.set_xlabel("step size / configured (x: diverged, filled: chosen)", fontsize=8)
        axis.set_ylabel("mean PSNR (dB), band: images")

    _panel_grid(datasets, tasks, draw, path, 3.2)


def plot_restorations(grids: dict, scores: dict, path, note: str = "") -> None:
    """One image per task, restored by every sampler: a row per task of ``grids`` ({task:
    ``images.TaskGrid`` with one row}), columns ground truth, measurement, then each sampler, its
    PSNR under each restoration from ``scores`` ({(task, sampler): dB}); ``note`` below."""
    import io

    from PIL import Image

    plt = _pyplot()
    columns = next(iter(grids.values())).columns if grids else []
    figure, axes = plt.subplots(max(len(grids), 1), max(len(columns), 1), squeeze=False,
                                figsize=(1.25 * max(len(columns), 1), 1.45 * max(len(grids), 1) + 0.3))
    for r, (task, grid) in enumerate(grids.items()):
        for c, (column, tile) in enumerate(zip(grid.columns, grid.rows[0][1])):
            axis = axes[r][c]
            axis.imshow(Image.open(io.BytesIO(tile)), interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if r == 0:
                axis.set_title(column.replace("_", " "), fontsize=8)
            if c == 0:
                axis.set_ylabel(task.replace("_", " "), fontsize=8)
            if (task, column) in scores:
                axis.set_xlabel(f"{scores[task, column]:.1f} dB", fontsize=7, labelpad=2)
    if not grids:
        _nothing_to_plot(axes[0][0])
    _save_with_note(figure, path, note)
