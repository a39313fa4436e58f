"""Result tables: tidy per-run summaries and a paper-style table (rows samplers, columns
task x metric, best in bold) in Markdown and LaTeX."""

from __future__ import annotations

import math

import pandas as pd

from .metrics import HIGHER_IS_BETTER

TIDY_COLUMNS = ["dataset", "task", "sampler", "metric", "mean", "std", "n", "diverged"]


def summarise(per_image: pd.DataFrame) -> pd.DataFrame:
    """per_image columns: dataset, task, sampler, image, diverged, <metric>... -> tidy summary.
    Diverged images are counted, not averaged; +inf PSNR (exact restoration) is kept as inf."""
    metrics = [c for c in per_image.columns if c in HIGHER_IS_BETTER]
    rows = []
    for (dataset, task, sampler), group in per_image.groupby(["dataset", "task", "sampler"], sort=False):
        ok = group[~group["diverged"]]
        for metric in metrics:
            values = ok[metric]
            rows.append(dict(dataset=dataset, task=task, sampler=sampler, metric=metric,
                             mean=values.mean() if len(values) else math.nan,
                             std=values.std(ddof=1) if len(values) > 1 else math.nan,
                             n=len(values), diverged=int(group["diverged"].sum())))
    return pd.DataFrame(rows, columns=TIDY_COLUMNS)


def paper_table(tidy: pd.DataFrame, runs: list[str], tasks: list[str]) -> pd.DataFrame:
    wide = tidy.pivot_table(index="sampler", columns=["task", "metric"], values="mean", aggfunc="first")
    columns = [c for t in tasks for c in wide.columns if c[0] == t]
    return wide.reindex(index=[r for r in runs if r in wide.index], columns=columns)


def formatted_cells(table: pd.DataFrame, bold) -> list[list[str]]:
    """Cell strings with two decimals, ``bold(text)`` applied to the best value of each column."""
    best = {c: (table[c].max() if HIGHER_IS_BETTER[c[1]] else table[c].min()) for c in table.columns}
    return [[bold(f"{v:.2f}") if v == best[c] and not math.isnan(v) else f"{v:.2f}"
             for c, v in zip(table.columns, row)] for row in table.itertuples(index=False)]


def to_markdown(table: pd.DataFrame) -> str:
    header = "| sampler | " + " | ".join(f"{t} {m.upper()}" for t, m in table.columns) + " |"
    lines = [header, "|" + "---|" * (len(table.columns) + 1)]
    for name, cells in zip(table.index, formatted_cells(table, lambda s: f"**{s}**")):
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def to_latex(table: pd.DataFrame) -> str:
    escape = lambda s: str(s).replace("_", r"\_")
    lines = [r"\begin{tabular}{l" + "r" * len(table.columns) + "}", r"\toprule",
             "sampler & " + " & ".join(f"{escape(t)} {m.upper()}" for t, m in table.columns) + r" \\", r"\midrule"]
    for name, cells in zip(table.index, formatted_cells(table, lambda s: rf"\textbf{{{s}}}")):
        lines.append(escape(name) + " & " + " & ".join(cells) + r" \\")
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"]) + "\n"


def ablation_table(tidy: pd.DataFrame, grids: dict[str, list[tuple[object, str]]]) -> pd.DataFrame:
    """Rows of ``tidy`` that belong to ablation grids, with columns ablation and value added."""
    parts = []
    for name, members in grids.items():
        for value, run in members:
            rows = tidy[tidy["sampler"] == run].copy()
            rows.insert(0, "value", value)
            rows.insert(0, "ablation", name)
            parts.append(rows)
    columns = ["ablation", "value", *TIDY_COLUMNS]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)

