"""A self-contained HTML report: what was run, the result tables, figures and image grids.

Python builds the context; the markup is in ``templates/`` (Jinja2, autoescaped)."""

from __future__ import annotations

import base64
import functools

import pandas as pd
import yaml
from markupsafe import Markup, escape

from ..metrics import DESCRIPTIONS, LABELS, SET_METRICS
from ..pipeline import config as configuration
from .formats import CellStyle, arrow, formatted_rows, paired_note, paired_rows, task_verdicts
from .images import TaskGrid
from .summary import diverged_note, fully_diverged
from .tables import PAPER_LPIPS, ResultTable, result_tables

BANNERS = {
    "demo": Markup("<b>Demo settings</b>: small images and reduced steps for a CPU; not the paper's settings."),
    "paper": Markup("<b>Paper settings</b>."),
    "smoke": Markup("<b>Smoke test of the paper path</b>: the paper's architectures with <b>randomly initialised "
                    "weights</b> written by the test suite, tiny images and a few steps. The numbers say nothing "
                    "about any method; they show that every step runs."),
}


@functools.cache
def _templates():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("spgd.reporting", "templates"),
                              autoescape=True, trim_blocks=True, lstrip_blocks=True,
                              undefined=jinja2.StrictUndefined)


def page(template: str, **context) -> str:
    """A template of ``spgd/reporting/templates`` rendered with ``context``."""
    return _templates().get_template(template).render(**context) + "\n"


def png_data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


def describe_prior(prior: dict) -> str:
    if prior["type"] == "gmm_smooth":
        return "Gaussian-mixture prior (closed form, no weights)"
    if prior["type"] == "edm_unet":
        source = prior.get("checkpoint") or "the shipped spgd/priors/weights/demo_edm_unet.pt"
        return ("demo prior: a small EDM UNet trained on photos bundled with scikit-image, scikit-learn and "
                f"matplotlib, not the paper's model; checkpoint {source} (model card: "
                "spgd/priors/weights/MODEL_CARD.md)")
    return f"{prior.get('architecture', 'ffhq')} checkpoint {prior.get('checkpoint')} (sha256 {prior.get('sha256', 'not given')})"


HTML = CellStyle(bold=lambda text: Markup("<b>%s</b>") % text, underline=lambda text: Markup("<u>%s</u>") % text,
                 tie="†", text=escape)


def _grouped(table: ResultTable) -> dict:
    """A table with a column group per task for the template: groups (task, width), metric labels
    with arrows, rows (label, cells, published?)."""
    rows = formatted_rows(table, HTML)
    return dict(title=table.title, notes=table.notes,
                groups=[(task, sum(1 for t, _ in table.values.columns if t == task)) for task in table.tasks()],
                labels=[f"{LABELS[m]} {arrow(m)}" for _, m in table.values.columns],
                rows=[(name, cells, i >= len(table.values)) for i, (name, cells) in enumerate(rows)])


def _grid(grid: TaskGrid) -> dict:
    return dict(columns=grid.columns,
                rows=[(image, [png_data_uri(tile) for tile in tiles]) for image, tiles in grid.rows])


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def _task_sections(tables: list[ResultTable], tidy: pd.DataFrame, cost: pd.DataFrame) -> list[dict]:
    """Per dataset and task: every metric beside each sampler's cost, then the paired comparisons."""
    widest = {}  # per dataset its table of every metric, else its paper-layout table
    for table in tables:
        if table.kind == "every" or (table.kind == "paper" and table.dataset not in widest):
            widest[table.dataset] = table
    sections = []
    for table in widest.values():
        per_image = [m for m in dict.fromkeys(m for _, m in table.values.columns) if m not in SET_METRICS]
        for task in table.tasks():
            part = table.part([c for c in table.values.columns if c[0] == task])
            costs = cost[(cost["dataset"] == table.dataset) & (cost["task"] == task)].set_index("sampler")
            grouped, rows = _grouped(part), []
            for name, cells, published in grouped["rows"]:
                spent = costs.loc[name] if name in costs.index else None
                rows.append((name, cells, [] if spent is None else [
                    _number(spent["nfe_forward"]), _number(spent["nfe_backward"]),
                    _number(spent["seconds_per_restoration"]), f"{spent['peak_memory_bytes'] / 2**20:,.0f}",
                    spent["device"]], published))
            sections.append(dict(title=f"{table.dataset} / {task}", labels=grouped["labels"], rows=rows,
                                 paired_labels=[f"{LABELS[m]} {arrow(m)}" for m in per_image],
                                 paired=paired_rows(tidy, table.dataset, task, per_image, list(table.values.index))))
    return sections


def _metric_notes(tidy: pd.DataFrame) -> list[dict]:
    """What each metric is, how many images each value rests on, why any is unavailable."""
    notes = []
    for metric in dict.fromkeys(tidy["metric"]):
        rows = tidy[tidy["metric"] == metric]
        notes.append(dict(label=LABELS[metric], description=DESCRIPTIONS[metric], counts=sorted(set(rows["n"])),
                          reasons=sorted({r for r in rows["unavailable"].fillna("") if r})))
    return notes


def _fixed(value, digits: int = 2, style: str = "f") -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.{digits}{style}}"


def _claims(claims: pd.DataFrame | None) -> list[dict]:
    """Each claim with its verdict, evidence and comparisons (rows of ``claims.claims_table``)."""
    if claims is None:
        return []
    out = []
    for key, rows in claims.groupby("claim", sort=False):
        first = rows.iloc[0]
        out.append(dict(key=key, text=first["text"], verdict=first["claim_verdict"], evidence=first["evidence"],
                        rows=[(r.label, int(r.n), _fixed(r.difference, 3), _fixed(r.p, 3, "g"),
                               _fixed(r.p_adjusted, 3, "g"), r.verdict)
                              for r in rows.dropna(subset=["label"]).itertuples()]))
    return out


def _tuning(config: dict, tuning: dict | None) -> dict:
    """What the report says of the step sizes: which were used, and the sweep's choices and
    stability table when there was a sweep (``tuning``: {"choices": selected.yaml's list,
    "stability": ``spgd.tuning.stability_table``})."""
    used = config.get("hyperparameters", "configured")
    if not tuning:
        return dict(used=used, choices=[], stability=[], sweep="")
    section = config["tuning"]  # schema defaults filled
    grid = f"{', '.join(f'{f:g}' for f in section['factors'])} times the configured step size"
    if section["values"]:
        grid += " (explicit values for " + ", ".join(section["values"]) + ")"
    sweep = (f"This sweep: {', '.join(section.get('samplers', config['samplers']))} on "
             f"{', '.join(section.get('tasks', config['tasks']))}, at {grid}; "
             + "; ".join(f"{dataset}: {spec.get('count', 'all')} validation images ({spec['kind']}, from "
                         f"{spec['start']})" for dataset, spec in section["validation"].items())
             + f"; {section['repeats']} repeats each; chosen by mean {LABELS[section['metric']]}."
             + (f" {section['note']}" if section.get("note") else ""))
    ends = {"": "", "low": " (open at the low end)", "high": " (open at the high end)", "both": " (open at both ends)"}
    open_end = lambda row: row.open if isinstance(row.open, str) else ""  # an empty CSV field reads as NaN
    width = lambda row: "n/a" if pd.isna(row.stable_width) else (
        ("≥ " if open_end(row) else "") + f"{row.stable_width:g}" + ends[open_end(row)])
    return dict(used=used, sweep=sweep,
                choices=[(c["dataset"], c["task"], c["sampler"], c["parameter"], f"{c['configured']:g}",
                          f"{c['selected']:g}", ", ".join(f"{g:g}: {'diverged' if s is None else f'{s:.2f}'}"
                                                          for g, s in zip(c["grid"], c["scores"])))
                         for c in tuning["choices"]],
                stability=[(r.dataset, r.task, r.sampler, width(r), f"{100 * r.divergence_rate:.0f} %",
                            f"{r.selected:g}", _fixed(r.mean), _fixed(r.seed_spread), _fixed(r.p5))
                           for r in tuning["stability"].itertuples()])


def render(config: dict, samplers: list[str], tidy: pd.DataFrame, cost: pd.DataFrame, sampling: dict,
           image_grids: dict[str, TaskGrid], figures: dict[str, bytes] | None = None, weights: list[dict] | None = None,
           inputs: list[dict] | None = None, published: pd.DataFrame | None = None,
           claims: pd.DataFrame | None = None, tuning: dict | None = None) -> str:
    """The report of a workflow run. ``samplers``: table rows in order; ``tidy``: ``summarise``'s
    table; ``cost``: ``cost_table``'s; ``sampling``: ``sampling_summary``'s record; ``image_grids``:
    title -> ``images.task_grid``'s labelled tiles; ``figures``: title -> PNG bytes of plots;
    ``weights``: metric network records (``spgd.metrics.weights.provision``); ``inputs``: external
    input records (``spgd.pipeline.fetch.provenance``); ``published``: ``published.read_published``'s
    rows; ``claims``: ``claims.claims_table``'s; ``tuning``: the sweep's choices and stability table."""
    metrics = list(config.get("metrics", [])) or list(dict.fromkeys(tidy["metric"]))
    comparison = configuration.comparison(config)
    tables = result_tables(tidy, samplers, list(config["tasks"]), metrics, comparison,
                           config.get("tables", {}).get("lpips", PAPER_LPIPS), published,
                           config.get("tables", {}).get("published"))
    return page(
        "report.html.j2",
        banner=BANNERS[config.get("settings", "demo")],
        diverged_note=diverged_note(fully_diverged(tidy)),
        priors=[(name, describe_prior(spec.get("prior", config["prior"]))) for name, spec in config["datasets"].items()],
        sampling=sampling,
        inputs=inputs or [],
        config_yaml=yaml.safe_dump(config, sort_keys=False),
        summary=task_verdicts(tables, tidy, comparison.alpha),
        alpha=f"{comparison.alpha:g}",
        results=[_grouped(table) for table in tables if table.kind != "every"],  # "every": per task below
        task_sections=_task_sections(tables, tidy, cost) if len(cost) else [],
        reference=comparison.reference,
        paired_note=paired_note(comparison),
        metrics=_metric_notes(tidy),
        weights=weights or [],
        figures=[(title, png_data_uri(png)) for title, png in (figures or {}).items()],
        image_grids=[(title, _grid(grid)) for title, grid in image_grids.items()],
        claims=_claims(claims),
        tuning=_tuning(config, tuning),
    )
