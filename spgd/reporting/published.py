"""Published numbers (a CSV the user fills from the papers), checked and laid out as rows beside
ours; they are never computed here and take no part in the marks or tests."""

from __future__ import annotations

import math

import pandas as pd

from ..metrics import METRICS

PUBLISHED_COLUMNS = ["dataset", "task", "method", "metric", "value", "source"]


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


def published_rows(published: pd.DataFrame | None, dataset: str, columns: list) -> pd.DataFrame:
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
