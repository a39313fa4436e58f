"""Result tables: tidy per-sampler summaries and a paper-style table (rows samplers, columns
task x metric, best in bold) in Markdown and LaTeX."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from ..metrics import FORMATS, HIGHER_IS_BETTER, LABELS

KEYS = ["dataset", "task", "sampler"]
PER_IMAGE_COLUMNS = [*KEYS, "image", "repeat", "diverged", "diverged_step", "metric", "value", "unavailable"]
SET_COLUMNS = [*KEYS, "repeat", "metric", "value", "spread", "n", "diverged", "unavailable"]
TIDY_COLUMNS = [*KEYS, "metric", "mean", "std", "n", "repeats", "restorations", "diverged", "first_diverged_step",
                "best_of_repeats", "unavailable"]


def _reason(group: pd.DataFrame) -> str:
    reasons = sorted({r for r in group["unavailable"].fillna("") if r})
    return "; ".join(reasons)


def summarise(per_image: pd.DataFrame, per_set: pd.DataFrame | None = None) -> pd.DataFrame:
    """Tidy summary of per-image scores (PER_IMAGE_COLUMNS) and set scores (SET_COLUMNS).

    Per-image metrics, with several restorations (repeats) per image: ``mean`` is the mean over
    images of each image's mean over its repeats (the headline); ``best_of_repeats`` the mean over
    images of each image's best repeat (an oracle, as upstream reports it); ``std`` is over images.
    Diverged restorations are counted, not averaged: ``restorations`` were attempted (images x
    repeats), ``diverged`` of them diverged, the earliest at sampler step ``first_diverged_step``
    (NaN: none); +inf PSNR (exact restoration) is kept as inf. Set metrics (FID, KID): ``mean``/
    ``std`` over repeats, ``n`` the restored images per set (diverged ones have none)."""
    rows, first_step = [], {}
    for (dataset, task, sampler, metric), group in per_image.groupby([*KEYS, "metric"], sort=False):
        diverged = group["diverged"].astype(bool)
        per_image_repeats = group[~diverged].groupby("image", sort=False)["value"]
        means = per_image_repeats.mean()
        best = per_image_repeats.max() if HIGHER_IS_BETTER[metric] else per_image_repeats.min()
        steps = group.loc[diverged, "diverged_step"]
        first_step[dataset, task, sampler] = steps.min() if len(steps) else math.nan
        rows.append(dict(dataset=dataset, task=task, sampler=sampler, metric=metric,
                         mean=means.mean() if len(means) else math.nan,
                         std=means.std(ddof=1) if len(means) > 1 else math.nan,
                         n=len(means), repeats=group["repeat"].nunique(), restorations=len(group),
                         diverged=int(diverged.sum()), first_diverged_step=first_step[dataset, task, sampler],
                         best_of_repeats=best.mean() if len(best) else math.nan, unavailable=_reason(group)))
    if per_set is not None:
        for (dataset, task, sampler, metric), group in per_set.groupby([*KEYS, "metric"], sort=False):
            values = group["value"]
            rows.append(dict(dataset=dataset, task=task, sampler=sampler, metric=metric, mean=values.mean(),
                             std=values.std(ddof=1) if len(values) > 1 else math.nan, n=int(group["n"].min()),
                             repeats=len(group), restorations=int((group["n"] + group["diverged"]).sum()),
                             diverged=int(group["diverged"].sum()),
                             first_diverged_step=first_step.get((dataset, task, sampler), math.nan),
                             best_of_repeats=math.nan, unavailable=_reason(group)))
    # rows in one order whatever order the jobs' files came in
    return pd.DataFrame(rows, columns=TIDY_COLUMNS).sort_values(KEYS, kind="stable", ignore_index=True)


def paper_table(tidy: pd.DataFrame, samplers: list[str], tasks: list[str], value: str = "mean",
                metrics: list[str] | None = None) -> pd.DataFrame:
    """Rows samplers, columns (task, metric) in the given orders, cells ``value`` (NaN: unavailable)."""
    metrics = metrics or list(dict.fromkeys(tidy["metric"]))
    wide = tidy.pivot_table(index="sampler", columns=["task", "metric"], values=value, aggfunc="first",
                            dropna=False)
    columns = [(t, m) for t in tasks for m in metrics if (t, m) in wide.columns]
    return wide.reindex(index=[s for s in samplers if s in wide.index], columns=columns)


def divergence_marks(tidy: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """For each cell of ``table`` (from ``paper_table(tidy, ...)``): "D/R diverged" where D of its R
    restorations diverged, else ""."""
    counts = tidy.pivot_table(index="sampler", columns=["task", "metric"], values=["diverged", "restorations"],
                              aggfunc="first", dropna=False)
    marks = pd.DataFrame("", index=table.index, columns=table.columns)
    for sampler in table.index:
        for column in table.columns:
            diverged = counts.get(("diverged", *column), pd.Series(dtype=float)).get(sampler, 0)
            if diverged and not math.isnan(diverged):
                marks.loc[sampler, column] = f"{int(diverged)}/{int(counts[('restorations', *column)][sampler])} diverged"
    return marks


def result_tables(tidy: pd.DataFrame, samplers: list[str], tasks: list[str], metrics: list[str]):
    """(title, table, divergence marks) per dataset: the headline (mean over repeats) and, with
    several repeats per image, the oracle best-of-N table of the per-image metrics."""
    out = []
    for dataset, part in tidy.groupby("dataset", sort=False):
        repeats = int(part["repeats"].max())
        headline = f"{dataset}: mean over {repeats} repeats per image" if repeats > 1 else dataset
        table = paper_table(part, samplers, tasks, "mean", metrics)
        out.append((headline, table, divergence_marks(part, table)))
        per_image = [m for m in metrics if m in set(part.loc[part["best_of_repeats"].notna(), "metric"])]
        if repeats > 1 and per_image:
            table = paper_table(part, samplers, tasks, "best_of_repeats", per_image)
            out.append((f"{dataset}: best of {repeats} repeats per image (oracle, as upstream reports)", table,
                        divergence_marks(part, table)))
    return out


def write_result_tables(tidy: pd.DataFrame, samplers: list[str], tasks: list[str], metrics: list[str],
                        markdown_path, latex_path) -> None:
    """Every table of ``result_tables`` under its title, as Markdown and as LaTeX."""
    tables = result_tables(tidy, samplers, tasks, metrics)
    Path(markdown_path).write_text("\n".join(f"### {title}\n\n" + to_markdown(table, marks)
                                             for title, table, marks in tables))
    Path(latex_path).write_text("\n".join(f"% {title}\n" + to_latex(table, marks) for title, table, marks in tables))


def formatted_cells(table: pd.DataFrame, bold, marks: pd.DataFrame | None = None) -> list[list[str]]:
    """Cell strings in each metric's format, "n/a" where a value is missing (unavailable metric or
    every restoration diverged), a cell's divergence mark in brackets after it. ``bold(text)``
    marks the best value of each column among the cells where nothing diverged: a mean over the
    survivors is never the best."""
    marks = pd.DataFrame("", index=table.index, columns=table.columns) if marks is None else marks
    clean = table.where(marks == "")
    best = {c: (clean[c].max() if HIGHER_IS_BETTER[c[1]] else clean[c].min()) for c in table.columns}

    def cell(column, value, mark):
        text = "n/a" if math.isnan(value) else format(value, FORMATS[column[1]])
        if mark:
            return f"{text} ({mark})"
        return bold(text) if value == best[column] else text

    return [[cell(c, v, m) for c, v, m in zip(table.columns, row, mark_row)]
            for row, mark_row in zip(table.itertuples(index=False), marks.itertuples(index=False))]


def to_markdown(table: pd.DataFrame, marks: pd.DataFrame | None = None) -> str:
    header = "| sampler | " + " | ".join(f"{t} {LABELS[m]}" for t, m in table.columns) + " |"
    lines = [header, "|" + "---|" * (len(table.columns) + 1)]
    for name, cells in zip(table.index, formatted_cells(table, lambda s: f"**{s}**", marks)):
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_latex(table: pd.DataFrame, marks: pd.DataFrame | None = None) -> str:
    escape = lambda s: str(s).replace("_", r"\_")
    lines = [r"\begin{tabular}{l" + "r" * len(table.columns) + "}", r"\toprule",
             "sampler & " + " & ".join(f"{escape(t)} {escape(LABELS[m])}" for t, m in table.columns) + r" \\", r"\midrule"]
    for name, cells in zip(table.index, formatted_cells(table, lambda s: rf"\textbf{{{s}}}", marks)):
        lines.append(escape(name) + " & " + " & ".join(cells) + r" \\")
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"]) + "\n"


def ablation_table(tidy: pd.DataFrame, ablations: dict[str, list[tuple[object, str]]]) -> pd.DataFrame:
    """Rows of ``tidy`` that belong to ablations, with columns ablation and value added."""
    parts = []
    for name, points in ablations.items():
        for value, sampler in points:
            rows = tidy[tidy["sampler"] == sampler].copy()
            rows.insert(0, "value", value)
            rows.insert(0, "ablation", name)
            parts.append(rows)
    columns = ["ablation", "value", *TIDY_COLUMNS]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)

