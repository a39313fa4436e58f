"""Result tables in the paper's layout: rows samplers, a column group per task, the best of each
column in bold and the second underlined, a dagger on cells not significantly different from the
best, divergence marks, published rows beside ours (``result_tables``); and the one-line verdict
per task that opens the report (``best_per_task``). Written out by ``spgd.reporting.formats``."""

from __future__ import annotations

import dataclasses

import pandas as pd

from ..metrics import SET_METRICS
from .published import published_rows
from .statistics import Comparison, smallest_p
from .summary import ranked

# the paper's main table: PSNR, SSIM and one LPIPS (by default the variant upstream reports)
PAPER_METRICS = ("psnr", "ssim")
PAPER_LPIPS = "lpips_vgg_avgpool"


def paper_table(tidy: pd.DataFrame, samplers: list[str], tasks: list[str], value: str = "mean",
                metrics: list[str] | None = None) -> pd.DataFrame:
    """Rows samplers, columns (task, metric) in the given orders, cells ``value`` (NaN: unavailable)."""
    metrics = metrics or list(dict.fromkeys(tidy["metric"]))
    wide = tidy.pivot_table(index="sampler", columns=["task", "metric"], values=value, aggfunc="first",
                            dropna=False)
    columns = [(t, m) for t in tasks for m in metrics if (t, m) in wide.columns]
    return wide.reindex(index=[s for s in samplers if s in wide.index], columns=columns)


@dataclasses.dataclass
class ResultTable:
    """One table: ``values`` (rows samplers, columns (task, metric)); per cell its divergence mark
    ("D/R diverged" or "") and whether it is ``tied`` with its column's best (not significantly
    different); ``published`` rows beside ours; ``notes`` explaining the marks."""

    title: str
    dataset: str
    kind: str  # "paper" (PSNR, SSIM, one LPIPS), "every" (every metric) or "oracle" (best of repeats)
    values: pd.DataFrame
    diverged: pd.DataFrame
    tied: pd.DataFrame
    published: pd.DataFrame
    notes: list[str]

    def part(self, columns: list) -> "ResultTable":
        """The same table restricted to ``columns`` (published rows with no value there dropped)."""
        return dataclasses.replace(self, values=self.values[columns], diverged=self.diverged[columns],
                                   tied=self.tied[columns], published=self.published[columns].dropna(how="all"))

    def tasks(self) -> list[str]:
        return list(dict.fromkeys(task for task, _ in self.values.columns))


def _cell_frame(tidy: pd.DataFrame, table: pd.DataFrame, column: str) -> pd.DataFrame:
    wide = tidy.pivot_table(index="sampler", columns=["task", "metric"], values=column, aggfunc="first",
                            dropna=False)
    return wide.reindex(index=table.index, columns=table.columns)


def divergence_marks(tidy: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """For each cell of ``table`` (from ``paper_table(tidy, ...)``): "D/R diverged" where D of its R
    restorations diverged, else ""."""
    diverged, restorations = _cell_frame(tidy, table, "diverged"), _cell_frame(tidy, table, "restorations")
    return pd.DataFrame([[f"{int(d)}/{int(r)} diverged" if d == d and d else "" for d, r in zip(*rows)]
                         for rows in zip(diverged.itertuples(index=False), restorations.itertuples(index=False))],
                        index=table.index, columns=table.columns)


def tie_marks(tidy: pd.DataFrame, table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """True on each cell of a per-image metric that is not its column's best, nothing of which
    diverged, and whose paired test against the best is not significant (p >= ``alpha``, or too
    few images to test)."""
    p = _cell_frame(tidy, table, "p_vs_best")
    diverged = divergence_marks(tidy, table) != ""
    tied = pd.DataFrame(False, index=table.index, columns=table.columns)
    for column in table.columns:
        if column[1] in SET_METRICS:
            continue
        best, _ = ranked(table[column].where(~diverged[column]), column[1])
        tied[column] = table[column].notna() & (table[column] != best) & ~diverged[column] & ~(p[column] < alpha)
    return tied


def _notes(tidy: pd.DataFrame, table: pd.DataFrame, tied: pd.DataFrame | None, diverged: pd.DataFrame,
           published: pd.DataFrame, comparison: Comparison, published_file: str | None) -> list[str]:
    metrics = {m for _, m in table.columns}
    notes = ["Arrows: ↑ higher is better, ↓ lower is better. Best of each column in bold, second underlined, "
             "among the cells where no restoration diverged; n/a: unavailable (reason under Metrics) or every "
             "restoration diverged."]
    if tied is not None and metrics - set(SET_METRICS):
        notes.append(f"†: not significantly different from the column's best (paired Wilcoxon signed-rank test "
                     f"over the images both restored, p ≥ {comparison.alpha:g}), so several cells can share the "
                     "best.")
        counts = tidy.loc[tidy["metric"].isin(metrics - set(SET_METRICS)), "n"]
        if len(counts) and counts.max() > 0 and smallest_p(int(counts.max())) >= comparison.alpha:
            notes.append(f"With at most {int(counts.max())} images per cell no difference can be significant at "
                         f"this level: the smallest p the test can give is {smallest_p(int(counts.max())):.3g}.")
    if metrics & set(SET_METRICS):
        notes.append("FID and KID score whole sets of images: no paired test.")
    if (diverged != "").any(axis=None):
        notes.append("(D/R diverged): D of the cell's R restorations diverged; the value averages the others "
                     "(FID, KID: the set holds only those) and is never bold.")
    if len(published):
        notes.append(f"Rows marked published are copied from {published_file or 'the published-numbers file'}, "
                     "not computed here: they take no part in bold, underline or tests.")
    return notes


def result_tables(tidy: pd.DataFrame, samplers: list[str], tasks: list[str], metrics: list[str],
                  comparison: Comparison = Comparison(), lpips: str = PAPER_LPIPS,
                  published: pd.DataFrame | None = None, published_file: str | None = None) -> list[ResultTable]:
    """Per dataset: the paper's layout (PSNR, SSIM, ``lpips``; mean over repeats), every metric when
    there are more, and with several repeats per image the oracle best-of-N table of the per-image
    metrics. ``published`` rows (``read_published``) join the first two."""
    out = []
    for dataset, part in tidy.groupby("dataset", sort=False):
        repeats = int(part["repeats"].max())
        headline = f"{dataset}: mean over {repeats} repeats per image" if repeats > 1 else dataset
        present = [m for m in metrics if m in set(part["metric"])]
        paper = [m for m in (*PAPER_METRICS, lpips) if m in present]
        choices = [(headline, "paper", paper or present)]
        if paper and len(present) > len(paper):
            choices.append((f"{headline}: every metric", "every", present))
        for title, kind, chosen in choices:
            table = paper_table(part, samplers, tasks, "mean", chosen)
            diverged, tied = divergence_marks(part, table), tie_marks(part, table, comparison.alpha)
            rows = published_rows(published, dataset, list(table.columns))
            out.append(ResultTable(title, dataset, kind, table, diverged, tied, rows,
                                   _notes(part, table, tied, diverged, rows, comparison, published_file)))
        per_image = [m for m in present if m in set(part.loc[part["best_of_repeats"].notna(), "metric"])]
        if repeats > 1 and per_image:
            table = paper_table(part, samplers, tasks, "best_of_repeats", per_image)
            diverged = divergence_marks(part, table)
            no_rows = published_rows(None, dataset, list(table.columns))
            out.append(ResultTable(f"{dataset}: best of {repeats} repeats per image (oracle, as upstream reports)",
                                   dataset, "oracle", table, diverged, pd.DataFrame(False, index=table.index, columns=table.columns),
                                   no_rows, _notes(part, table, None, diverged, no_rows, comparison, None)))
    return out


def best_per_task(tables: list[ResultTable], tidy: pd.DataFrame, alpha: float) -> list[dict]:
    """For each dataset and task of the paper-layout tables (from ``tidy``), on the task's first
    metric with a paired test (PSNR in that layout): ``best``, the samplers with the best mean among
    the cells where nothing diverged; ``value``, that mean; ``tied``, the other samplers the paired
    test cannot tell from it (the table's daggers); ``images``, the images behind the best value;
    ``testable``, whether the test can reach p < ``alpha`` at that many; ``significant``, testable,
    one best sampler and none tied (samplers that diverged are marked in the tables, not tested)."""
    rows = []
    for table in [t for t in tables if t.kind == "paper"]:
        for task in table.tasks():
            column = next((c for c in table.values.columns if c[0] == task and c[1] not in SET_METRICS), None)
            if column is None:
                continue
            values = table.values[column].where(table.diverged[column] == "")
            best, _ = ranked(values, column[1])
            leaders = [] if best != best else list(values.index[values == best])
            tied = list(values.index[table.tied[column]])
            cell = tidy[(tidy["dataset"] == table.dataset) & (tidy["task"] == task) & (tidy["metric"] == column[1])
                        & tidy["sampler"].isin(leaders[:1])]
            images = int(cell["n"].iloc[0]) if len(cell) else 0
            testable = images > 0 and smallest_p(images) < alpha
            rows.append(dict(dataset=table.dataset, task=task, metric=column[1], best=leaders, value=best, tied=tied,
                             significant=testable and len(leaders) == 1 and not tied, images=images,
                             testable=testable))
    return rows
