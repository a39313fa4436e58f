"""The result tables written out: Markdown and LaTeX (booktabs) with their marks, the paired
comparisons with the reference per task, and the cell styles the HTML report shares."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable

import pandas as pd

from ..metrics import FORMATS, HIGHER_IS_BETTER, LABELS, SET_METRICS
from .statistics import Comparison, smallest_p
from .summary import ranked
from .tables import ResultTable, best_per_task

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


def verdict(row: dict, alpha: float) -> str:
    """What a ``tables.best_per_task`` row says of its best sampler, in words."""
    if not row["best"]:
        return "every restoration diverged"
    if row["significant"]:
        return "significantly best"
    if not row["testable"]:
        return (f"no test can tell samplers apart at {row['images']} images (the smallest p is "
                f"{smallest_p(row['images']):.3g}, not below {alpha:g})")
    return "not significantly better than " + ", ".join(row["best"][1:] + row["tied"])


def task_verdicts(tables: list[ResultTable], tidy: pd.DataFrame, alpha: float) -> list[tuple]:
    """(dataset, task, metric label, best sampler(s), mean, images, verdict) per task, the cells of
    the report's summary and of findings.md (``tables.best_per_task``)."""
    rows = []
    for row in best_per_task(tables, tidy, alpha):
        metric = row["metric"]
        value = format(row["value"], FORMATS[metric]) if row["best"] else "n/a"
        rows.append((row["dataset"], row["task"], f"{LABELS[metric]} {arrow(metric)}", ", ".join(row["best"]) or "n/a",
                     value, row["images"], verdict(row, alpha)))
    return rows


def findings_markdown(tables: list, tidy: pd.DataFrame, alpha: float, claims: pd.DataFrame | None,
                      header: str) -> str:
    """The per-task verdicts (``task_verdicts``) and the claims' verdicts (``claims.claims_table``'s
    rows) as Markdown under ``header`` (where the numbers come from)."""
    lines = [header, "", "| dataset | task | metric | best | mean | images | verdict |", "|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(map(str, cells)) + " |" for cells in task_verdicts(tables, tidy, alpha)]
    if claims is not None and len(claims):
        lines += ["", "| claim | verdict | evidence |", "|---|---|---|"]
        for key, rows in claims.groupby("claim", sort=False):
            first = rows.iloc[0]
            lines.append(f"| ({key}) {first['text']} | {first['claim_verdict']} | {first['evidence']} |")
    return "\n".join(lines) + "\n"
