"""Result tables: a tidy per-sampler summary with paired comparisons, a cost summary, and tables in
the paper's layout (rows samplers, column groups tasks, best in bold, second underlined, a dagger
on cells not significantly different from the best) as Markdown, LaTeX and HTML."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable

import pandas as pd

from ..metrics import FORMATS, HIGHER_IS_BETTER, LABELS, METRICS, SET_METRICS
from .statistics import Comparison, paired_difference, smallest_p

KEYS = ["dataset", "task", "sampler"]
PER_IMAGE_COLUMNS = [*KEYS, "image", "repeat", "diverged", "diverged_step", "metric", "value", "unavailable"]
SET_COLUMNS = [*KEYS, "repeat", "metric", "value", "spread", "n", "diverged", "unavailable"]
# paired comparisons (``spgd.reporting.statistics``): with the reference sampler, and the p-value
# of the test against the best cell of the same dataset, task and metric
PAIRED_COLUMNS = ["reference", "paired_n", "difference", "difference_low", "difference_high", "p_vs_reference",
                  "p_vs_best"]
TIDY_COLUMNS = [*KEYS, "metric", "mean", "std", "n", "repeats", "restorations", "diverged", "first_diverged_step",
                "best_of_repeats", "unavailable", *PAIRED_COLUMNS]
COST_COLUMNS = [*KEYS, "jobs", "restorations", "nfe_forward", "nfe_backward", "seconds_per_restoration",
                "peak_memory_bytes", "device"]
PUBLISHED_COLUMNS = ["dataset", "task", "method", "metric", "value", "source"]
# the paper's main table: PSNR, SSIM and one LPIPS (by default the variant upstream reports)
PAPER_METRICS = ("psnr", "ssim")
PAPER_LPIPS = "lpips_vgg_avgpool"


def _reason(group: pd.DataFrame) -> str:
    reasons = sorted({r for r in group["unavailable"].fillna("") if r})
    return "; ".join(reasons)


def ranked(values: pd.Series, metric: str) -> tuple[float, float]:
    """(best, second best) distinct values for ``metric``; NaN skipped, NaN where there is none."""
    distinct = sorted(set(values.dropna()), reverse=HIGHER_IS_BETTER[metric])
    return tuple((distinct + [math.nan, math.nan])[:2])


def fully_diverged(tidy: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(dataset, task, sampler) of every cell group none of whose restorations survived: a result
    to show (tables mark it, plots skip it with a note, the report says so at the top), not a gap."""
    rows = tidy[(tidy["restorations"] > 0) & (tidy["diverged"] >= tidy["restorations"])]
    return list(dict.fromkeys(map(tuple, rows[KEYS].itertuples(index=False, name=None))))


def diverged_note(groups: list[tuple[str, str, str]]) -> str:
    """One sentence naming ``fully_diverged`` groups, "" when there are none."""
    if not groups:
        return ""
    return "Every restoration diverged (no value to show): " + "; ".join(
        f"{sampler} on {dataset} / {task}" for dataset, task, sampler in groups) + "."


def image_means(per_image: pd.DataFrame) -> dict[tuple, pd.Series]:
    """{(dataset, task, sampler, metric): each image's mean over its repeats that did not diverge,
    indexed by image}: the unit of the paired comparisons."""
    alive = per_image[~per_image["diverged"].astype(bool)].dropna(subset=["value"])
    means = alive.groupby([*KEYS, "metric", "image"], sort=False)["value"].mean()
    return {key: group.droplevel([0, 1, 2, 3]) for key, group in means.groupby(level=[0, 1, 2, 3], sort=False)}


def summarise(per_image: pd.DataFrame, per_set: pd.DataFrame | None = None,
              comparison: Comparison = Comparison()) -> pd.DataFrame:
    """Tidy summary of per-image scores (PER_IMAGE_COLUMNS) and set scores (SET_COLUMNS).

    Per-image metrics, with several restorations (repeats) per image: ``mean`` is the mean over
    images of each image's mean over its repeats (the headline); ``best_of_repeats`` the mean over
    images of each image's best repeat (an oracle, as upstream reports it); ``std`` is over images.
    Diverged restorations are counted, not averaged: ``restorations`` were attempted (images x
    repeats), ``diverged`` of them diverged, the earliest at sampler step ``first_diverged_step``
    (NaN: none); +inf PSNR (exact restoration) is kept as inf. Set metrics (FID, KID): ``mean``/
    ``std`` over repeats, ``n`` the restored images per set (diverged ones have none).

    Paired comparisons (per-image metrics; ``paired_comparisons``): ``difference`` is the mean over
    ``paired_n`` images of (this sampler - ``reference``), ``difference_low``/``_high`` its
    bootstrap interval, ``p_vs_reference`` the Wilcoxon signed-rank p-value; ``p_vs_best`` that of
    the test against the best sampler of the same dataset, task and metric."""
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
    tidy = pd.DataFrame(rows, columns=TIDY_COLUMNS[:-len(PAIRED_COLUMNS)])
    tidy = tidy.sort_values(KEYS, kind="stable", ignore_index=True)
    return pd.concat([tidy, paired_comparisons(tidy, image_means(per_image), comparison)], axis=1)


def paired_comparisons(tidy: pd.DataFrame, means: dict[tuple, pd.Series], comparison: Comparison) -> pd.DataFrame:
    """PAIRED_COLUMNS for each row of ``tidy`` (NaN for set metrics, for the reference itself and
    for the best against itself). The best of a dataset, task and metric is the best mean among
    the samplers none of whose restorations diverged, as the tables bold it."""
    out = pd.DataFrame(math.nan, index=tidy.index, columns=PAIRED_COLUMNS)
    out["reference"] = comparison.reference or ""
    for (dataset, task, metric), cells in tidy.groupby(["dataset", "task", "metric"], sort=False):
        if metric in SET_METRICS:
            continue
        values = lambda sampler: means.get((dataset, task, sampler, metric), pd.Series(dtype=float))
        clean = cells[cells["diverged"] == 0]
        best, _ = ranked(clean["mean"], metric)
        best_sampler = None if math.isnan(best) else clean.loc[clean["mean"] == best, "sampler"].iloc[0]
        for index, sampler in cells["sampler"].items():
            reference = comparison.reference
            if reference in set(cells["sampler"]) and sampler != reference:
                found = paired_difference(values(sampler), values(reference), comparison,
                                          dataset, task, metric, sampler, reference)
                out.loc[index, ["paired_n", "difference", "difference_low", "difference_high", "p_vs_reference"]] = (
                    found["paired_n"], found["difference"], found["difference_low"], found["difference_high"],
                    found["p"])
            if best_sampler is not None and sampler != best_sampler:
                out.loc[index, "p_vs_best"] = paired_difference(values(sampler), values(best_sampler), comparison,
                                                                interval=False)["p"]
    return out


# ---- cost --------------------------------------------------------------------------------------

def cost_table(stats: list[dict]) -> pd.DataFrame:
    """COST_COLUMNS per dataset, task and sampler from the sample jobs' stats: network evaluations
    (forward, backward) and wall seconds per restoration, the largest peak memory of its jobs
    (CUDA: the most bytes torch allocated; CPU: the job process's peak resident memory) and the
    devices."""
    rows = []
    for (dataset, task, sampler), jobs in pd.DataFrame(stats).groupby(KEYS, sort=False):
        restorations = jobs["images"].map(len) * jobs["repeats"]
        total = restorations.sum()
        rows.append(dict(dataset=dataset, task=task, sampler=sampler, jobs=len(jobs), restorations=int(total),
                         nfe_forward=(jobs["nfe_forward"] * restorations).sum() / total,
                         nfe_backward=(jobs["nfe_backward"] * restorations).sum() / total,
                         seconds_per_restoration=jobs["wall_seconds"].sum() / total,
                         peak_memory_bytes=int(jobs["peak_memory_bytes"].max()),
                         device=", ".join(sorted(set(jobs["device"])))))
    return pd.DataFrame(rows, columns=COST_COLUMNS).sort_values(KEYS, kind="stable", ignore_index=True)


def diverged_restorations(stats: list[dict]) -> list[dict]:
    """Every diverged restoration of the sample jobs' stats: dataset, task, sampler, image, repeat
    and the sampler step where it became non-finite."""
    rows = [dict(dataset=s.get("dataset", ""), task=s["task"], sampler=s["sampler"], image=image, repeat=repeat,
                 step=step)
            for s in stats for repeat, steps in enumerate(s["diverged_step"])
            for image, step in zip(s["images"], steps) if step >= 0]
    return sorted(rows, key=lambda r: (r["dataset"], r["task"], r["sampler"], r["repeat"], str(r["image"])))


def sampling_summary(stats: list[dict]) -> dict:
    """What the report says of the sampling as a whole, from the sample jobs' stats: runs (a
    sampler on a shard), their wall seconds, the devices, the package versions and every diverged
    restoration. Written by the tables step so that the report reads one file, not every shard's."""
    return dict(runs=len(stats), wall_seconds=sum(s["wall_seconds"] for s in stats),
                devices=sorted({s["device"] for s in stats}), versions=stats[0]["versions"] if stats else {},
                diverged=diverged_restorations(stats))


# ---- published numbers -------------------------------------------------------------------------

def read_published(path) -> pd.DataFrame:
    """The published-numbers file (PUBLISHED_COLUMNS, one number per row), checked: the columns,
    a known metric, a finite value, a method and a source on every row, no row given twice.
    Errors name the file and the line."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    if list(frame.columns) != PUBLISHED_COLUMNS:
        raise ValueError(f"{path}: the header must be {','.join(PUBLISHED_COLUMNS)}, got {','.join(frame.columns)}")
    frame = frame.apply(lambda column: column.str.strip())
    for index, row in frame.iterrows():
        where = f"{path}, line {index + 2}"
        empty = [column for column in PUBLISHED_COLUMNS if not row[column]]
        if empty:
            raise ValueError(f"{where}: {', '.join(empty)} empty")
        if row["metric"] not in METRICS:
            raise ValueError(f"{where}: metric {row['metric']!r} is not one of {', '.join(METRICS)}")
        try:
            value = float(row["value"])
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ValueError(f"{where}: value {row['value']!r} is not a finite number")
    frame["value"] = frame["value"].astype(float)
    twice = frame.duplicated(["dataset", "task", "method", "metric", "source"], keep=False)
    if twice.any():
        lines = ", ".join(str(i + 2) for i in frame.index[twice])
        raise ValueError(f"{path}: lines {lines} give the same dataset, task, method, metric and source")
    return frame


def published_label(method: str, source: str) -> str:
    return f"{method}, published ({source})"


def _published_rows(published: pd.DataFrame | None, dataset: str, columns: list) -> pd.DataFrame:
    """Rows labelled ``published_label``, the file's values in ``columns`` (NaN where it has none)."""
    if published is None:
        return pd.DataFrame(columns=pd.MultiIndex.from_tuples(columns, names=["task", "metric"]))
    part = published[published["dataset"] == dataset]
    labels = list(dict.fromkeys(published_label(m, s) for m, s in zip(part["method"], part["source"])))
    rows = pd.DataFrame(math.nan, index=labels, columns=pd.MultiIndex.from_tuples(columns, names=["task", "metric"]))
    for row in part.itertuples():
        if (row.task, row.metric) in rows.columns:
            rows.loc[published_label(row.method, row.source), (row.task, row.metric)] = row.value
    return rows.dropna(how="all")


# ---- tables ------------------------------------------------------------------------------------

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
            rows = _published_rows(published, dataset, list(table.columns))
            out.append(ResultTable(title, dataset, kind, table, diverged, tied, rows,
                                   _notes(part, table, tied, diverged, rows, comparison, published_file)))
        per_image = [m for m in present if m in set(part.loc[part["best_of_repeats"].notna(), "metric"])]
        if repeats > 1 and per_image:
            table = paper_table(part, samplers, tasks, "best_of_repeats", per_image)
            diverged = divergence_marks(part, table)
            no_rows = _published_rows(None, dataset, list(table.columns))
            out.append(ResultTable(f"{dataset}: best of {repeats} repeats per image (oracle, as upstream reports)",
                                   dataset, "oracle", table, diverged, pd.DataFrame(False, index=table.index, columns=table.columns),
                                   no_rows, _notes(part, table, None, diverged, no_rows, comparison, None)))
    return out


# ---- rendering ---------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CellStyle:
    """How one output format writes bold, underline, the tie mark and plain text."""

    bold: Callable[[str], str]
    underline: Callable[[str], str]
    tie: str
    text: Callable[[str], str] = str


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                 "↑": r"$\uparrow$", "↓": r"$\downarrow$", "†": r"\textsuperscript{\dag}", "≥": r"$\geq$",
                 "−": "-"}


def latex_escape(text) -> str:
    return "".join(LATEX_SPECIAL.get(c, c) for c in str(text))


MARKDOWN = CellStyle(bold=lambda s: f"**{s}**", underline=lambda s: f"<u>{s}</u>", tie="†")
LATEX = CellStyle(bold=lambda s: rf"\textbf{{{s}}}", underline=lambda s: rf"\underline{{{s}}}",
                  tie=LATEX_SPECIAL["†"], text=latex_escape)


def arrow(metric: str) -> str:
    return "↑" if HIGHER_IS_BETTER[metric] else "↓"


def formatted_rows(table: ResultTable, style: CellStyle) -> list[tuple[str, list[str]]]:
    """(row label, cell strings) for each sampler, then each published row. Cells in their metric's
    format, "n/a" where a value is missing, the divergence mark in brackets after it; among the
    cells where nothing diverged the best in bold, the second underlined, ties with the best
    marked; published cells plain (blank where the file has none)."""
    values = table.values
    clean = values.where(table.diverged == "")
    ranks = {c: ranked(clean[c], c[1]) for c in values.columns}

    def cell(column, value, mark, tied):
        text = style.text("n/a" if math.isnan(value) else format(value, FORMATS[column[1]]))
        if mark:
            return text + style.text(f" ({mark})")
        best, second = ranks[column]
        text = style.bold(text) if value == best else style.underline(text) if value == second else text
        return text + style.tie if tied else text

    rows = [(style.text(name), [cell(c, v, m, t) for c, v, m, t in zip(values.columns, *cells)])
            for name, *cells in zip(values.index, values.itertuples(index=False),
                                    table.diverged.itertuples(index=False), table.tied.itertuples(index=False))]
    for name, published in table.published.iterrows():
        rows.append((style.text(name), [style.text("" if math.isnan(v) else format(v, FORMATS[c[1]]))
                                        for c, v in published.items()]))
    return rows


def to_markdown(table: ResultTable) -> str:
    header = "| sampler | " + " | ".join(f"{t} {LABELS[m]} {arrow(m)}" for t, m in table.values.columns) + " |"
    lines = [header, "|" + "---|" * (len(table.values.columns) + 1)]
    lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in formatted_rows(table, MARKDOWN)]
    return "\n".join(lines) + "\n\n" + "\n".join(f"- {note}" for note in table.notes) + "\n"


def to_latex(table: ResultTable) -> str:
    """A ``table`` float (booktabs): a column group per task with ``\\multicolumn`` and
    ``\\cmidrule``, a sub-column per metric with its arrow, the notes under the tabular."""
    columns, e = table.values.columns, latex_escape
    groups, rules, start = [], [], 2
    for task in table.tasks():
        width = sum(1 for t, _ in columns if t == task)
        groups.append(rf"\multicolumn{{{width}}}{{c}}{{{e(task)}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + width - 1}}}")
        start += width
    lines = [rf"% {e(table.title)}", r"\begin{table}[ht]", r"\centering", rf"\caption{{{e(table.title)}}}",
             r"\begin{tabular}{l" + "r" * len(columns) + "}", r"\toprule",
             " & " + " & ".join(groups) + r" \\", " ".join(rules),
             "sampler & " + " & ".join(f"{e(LABELS[m])} {e(arrow(m))}" for _, m in columns) + r" \\", r"\midrule"]
    rows = formatted_rows(table, LATEX)
    lines += [name + " & " + " & ".join(cells) + r" \\" for name, cells in rows[:len(table.values)]]
    if len(rows) > len(table.values):
        lines.append(r"\midrule")
        lines += [name + " & " + " & ".join(cells) + r" \\" for name, cells in rows[len(table.values):]]
    lines += [r"\bottomrule", r"\end{tabular}", r"\par\smallskip\footnotesize",
              " ".join(e(note) for note in table.notes), r"\end{table}"]
    return "\n".join(lines) + "\n"


def paired_rows(tidy: pd.DataFrame, dataset: str, task: str, metrics: list[str],
                samplers: list[str]) -> list[tuple[str, list[str]]]:
    """(sampler, cells) of the paired comparisons with the reference on one dataset and task, in the
    order ``samplers``: each cell "difference [low, high] p=..., n=..." for the per-image ``metrics``,
    or "n/a" with the reason when no image pairs up (the reference, or this sampler, restored none)."""
    here = tidy[(tidy["dataset"] == dataset) & (tidy["task"] == task)]
    restored = here.set_index(["sampler", "metric"])["n"]  # images with a surviving restoration
    part = here[here["paired_n"].notna()]
    rows = []
    for sampler in [s for s in samplers if s in set(part["sampler"])]:
        by_metric = part[part["sampler"] == sampler].set_index("metric")
        texts = []
        for metric in metrics:
            if metric not in by_metric.index or not by_metric.loc[metric, "paired_n"]:
                reference = by_metric["reference"].iloc[0]
                texts.append(f"n/a: {reference} (reference) has no restoration"
                             if restored.get((reference, metric), 0) == 0 else
                             "n/a: no restoration" if restored.get((sampler, metric), 0) == 0 else "n/a")
                continue
            r, f = by_metric.loc[metric], FORMATS[metric]
            interval = "" if math.isnan(r["difference_low"]) else f" [{r['difference_low']:+{f}}, {r['difference_high']:+{f}}]"
            p = "" if math.isnan(r["p_vs_reference"]) else f" p={r['p_vs_reference']:.2g},"
            texts.append(f"{r['difference']:+{f}}{interval}{p} n={int(r['paired_n'])}")
        rows.append((sampler, texts))
    return rows


def paired_note(comparison: Comparison) -> str:
    return (f"Difference: the mean over the images both restored of (sampler − {comparison.reference}); "
            f"in brackets its {comparison.confidence:.0%} bootstrap confidence interval (BCa, "
            f"{comparison.resamples:,} resamples of the images); p: paired Wilcoxon signed-rank test; n: images. "
            "With several repeats an image's value is its mean over the repeats that did not diverge. Below about "
            "20 images the interval is too narrow (config/README.md, \"Tables\", gives measured coverage).")


def write_result_tables(tidy: pd.DataFrame, tables: list[ResultTable], comparison: Comparison, markdown_path,
                        latex_path) -> None:
    """``tables`` (``result_tables``) under their titles, as Markdown with the paired comparisons
    per task after each dataset's tables, and as LaTeX (booktabs)."""
    sections = [f"### {table.title}\n\n" + to_markdown(table) for table in tables]
    per_image = [m for m in dict.fromkeys(tidy["metric"]) if m not in SET_METRICS]
    if comparison.reference and tidy["paired_n"].notna().any():
        sections.append(f"### Paired comparisons with {comparison.reference}\n\n- {paired_note(comparison)}\n")
        for table in [t for t in tables if t.kind == "paper"]:
            for task in table.tasks():
                rows = paired_rows(tidy, table.dataset, task, per_image, list(table.values.index))
                if rows:
                    sections.append(f"#### {table.dataset} / {task}\n\n| sampler | "
                                    + " | ".join(f"{LABELS[m]} {arrow(m)}" for m in per_image) + " |\n|"
                                    + "---|" * (len(per_image) + 1) + "\n"
                                    + "".join(f"| {s} | " + " | ".join(c) + " |\n" for s, c in rows))
    Path(markdown_path).write_text("\n".join(sections))
    Path(latex_path).write_text("% result tables; needs \\usepackage{booktabs}\n"
                                + "\n".join(to_latex(table) for table in tables))


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
