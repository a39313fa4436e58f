"""A self-contained HTML report: what was run, the result tables, qualitative image grids."""

from __future__ import annotations

import base64
import html

import pandas as pd
import yaml

from ..metrics import DESCRIPTIONS, LABELS
from .tables import formatted_cells, result_tables

STYLE = ("body{font-family:sans-serif;max-width:75em;margin:2em auto;padding:0 1em}"
         "table{border-collapse:collapse}td,th{padding:2px 8px;text-align:right;border-bottom:1px solid #ddd}"
         "img{image-rendering:pixelated;max-width:100%}.banner{padding:.6em;background:#fff3cd;border:1px solid #e0c060}"
         "pre{background:#f5f5f5;padding:.5em;overflow:auto}")


def png_data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode()


def _paper_table_html(table: pd.DataFrame) -> str:
    """One task's columns (task, metric): rows samplers, one column per metric."""
    head = "<tr><th>sampler</th>" + "".join(f"<th>{html.escape(LABELS[m])}</th>" for _, m in table.columns) + "</tr>"
    rows = [f"<tr><th>{html.escape(name)}</th>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
            for name, cells in zip(table.index, formatted_cells(table, lambda text: f"<b>{text}</b>"))]
    return f"<table>{head}{''.join(rows)}</table>"


def describe_prior(prior: dict) -> str:
    if prior["type"] == "gmm_smooth":
        return "Gaussian-mixture prior (closed form, no weights)"
    if prior["type"] == "edm_unet":
        source = html.escape(str(prior.get("checkpoint") or "the shipped spgd/priors/weights/demo_edm_unet.pt"))
        return ("demo prior: a small EDM UNet trained on photos bundled with scikit-image, scikit-learn and "
                f"matplotlib, not the paper's model; checkpoint {source} (model card: "
                "spgd/priors/weights/MODEL_CARD.md)")
    return (f"{prior.get('architecture', 'ffhq')} checkpoint {html.escape(str(prior.get('checkpoint')))} "
            f"(sha256 {html.escape(str(prior.get('sha256', 'not given')))})")


def _metrics_html(tidy: pd.DataFrame, weights: list[dict]) -> str:
    """What each metric is, how many images each value rests on, which network files were used
    (source and sha256), and why any metric is unavailable."""
    items = []
    for metric in dict.fromkeys(tidy["metric"]):
        rows = tidy[tidy["metric"] == metric]
        counts = sorted(set(rows["n"]))
        reasons = sorted({r for r in rows["unavailable"].fillna("") if r})
        state = f" <b>Unavailable</b>: {html.escape('; '.join(reasons))}" if reasons else ""
        items.append(f"<li><b>{html.escape(LABELS[metric])}</b>: {html.escape(DESCRIPTIONS[metric])}; "
                     f"N = {', '.join(map(str, counts))} images per value.{state}</li>")
    files = [f"<tr><td>{html.escape(w['file'])}</td><td>{', '.join(map(html.escape, w['used_by']))}</td>"
             f"<td>{html.escape(w['source'] if w['available'] else 'unavailable: ' + w['reason'])}</td>"
             f"<td><code>{html.escape(str(w['sha256']))}</code></td><td>{'yes' if w['official'] else 'no'}</td></tr>"
             for w in weights]
    table = ("<table><tr><th>file</th><th>used by</th><th>source</th><th>sha256</th>"
             "<th>official bytes</th></tr>" + "".join(files) + "</table>") if files else ""
    return ("<h3>Metrics</h3><ul>" + "".join(items) + "</ul>"
            + ("<p>Networks (torch hub files). <i>Official bytes</i>: the sha256 starts with the prefix in "
               "the official file name; converted files hold the same weights in another serialisation.</p>"
               + table if table else ""))


def _inputs_html(inputs: list[dict]) -> str:
    """External inputs (``spgd.pipeline.fetch.provenance`` records): path, source, size, sha256."""
    if not inputs:
        return ""
    def match(record):
        return {None: "not pinned", True: "matches", False: "MISMATCH"}[record["sha256_matches"]]
    rows = [f"<tr><td>{html.escape(r['key'])}</td><td>{html.escape(r['path'])}</td><td>{html.escape(r['source'])}</td>"
            f"<td>{r['size']:,}{' (%d images)' % r['images'] if 'images' in r else ''}</td>"
            f"<td><code>{html.escape(r['sha256'])}</code></td><td>{match(r)}</td></tr>" for r in inputs]
    return ("<li>External inputs (a folder's sha256 is over its images' names and sha256s):<table><tr><th>config key</th>"
            "<th>path</th><th>source</th><th>bytes</th><th>sha256</th><th>configured sha256</th></tr>"
            + "".join(rows) + "</table></li>")


BANNERS = {
    "demo": "<b>Demo settings</b>: small images and reduced steps for a CPU; not the paper's settings.",
    "paper": "<b>Paper settings</b>.",
    "smoke": ("<b>Smoke test of the paper path</b>: the paper's architectures with <b>randomly initialised "
              "weights</b> written by the test suite, tiny images and a few steps. The numbers say nothing "
              "about any method; they show that every step runs."),
}


def render(config: dict, tidy: pd.DataFrame, stats: list[dict], grids: dict[str, bytes],
           figures: dict[str, bytes] | None = None, weights: list[dict] | None = None,
           inputs: list[dict] | None = None) -> str:
    """``grids``: title -> PNG bytes (ground truth | measurement | each sampler, one row per image);
    ``figures``: title -> PNG bytes of plots (ablations); ``weights``: metric network records
    (``spgd.metrics.weights.provision``); ``inputs``: external input records
    (``spgd.pipeline.fetch.provenance``)."""
    banner = BANNERS[config.get("settings", "demo")]
    priors = "; ".join(f"{html.escape(name)}: {describe_prior(spec.get('prior', config['prior']))}"
                        for name, spec in config["datasets"].items())
    versions = stats[0]["versions"] if stats else {}
    wall = sum(s["wall_seconds"] for s in stats)
    devices = sorted({s["device"] for s in stats})
    diverged = sum(sum(map(sum, s["diverged"])) for s in stats)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>SPGD reproduction report</title>",
        f"<style>{STYLE}</style></head><body><h1>SPGD reproduction report</h1>",
        f"<p class='banner'>{banner}</p>",
        "<h2>What was run</h2><ul>",
        f"<li>Priors: {priors}</li>",
        f"<li>Devices: {html.escape(', '.join(devices))}; sampling wall time {wall:.1f} s over {len(stats)} jobs; "
        f"diverged images: {diverged}</li>",
        f"<li>Versions: {html.escape(', '.join(f'{k} {v}' for k, v in versions.items()))}</li>",
        _inputs_html(inputs or []),
        "<li>SPGD <i>released</i> steps with the raw gradient, as the published code does (its ADM "
        "momentum is computed and discarded), so it equals <i>no ADM</i>; <i>spgd_adm</i> applies the "
        "momentum as the paper describes.</li></ul>",
        f"<details><summary>Configuration</summary><pre>{html.escape(yaml.safe_dump(config, sort_keys=False))}</pre></details>",
        "<h2>Results</h2>",
    ]
    runs = list(config["samplers"])
    for title, table in result_tables(tidy, runs, list(config["tasks"]), list(config.get("metrics", []))
                                      or list(dict.fromkeys(tidy["metric"]))):
        parts.append(f"<h3>{html.escape(title)}</h3>")
        for task in dict.fromkeys(t for t, _ in table.columns):  # one compact table per task
            columns = [c for c in table.columns if c[0] == task]
            parts.append(f"<h4>{html.escape(task)}</h4><div style='overflow-x:auto'>"
                         + _paper_table_html(table[columns]) + "</div>")
    parts.append("<p>Best per column and task in bold; n/a: unavailable (reason below) or every restoration diverged. "
                 "Per-image metrics are means over images; FID and KID compare each run's restored set "
                 "with the ground-truth set.</p>")
    parts.append(_metrics_html(tidy, weights or []))
    for title, png in (figures or {}).items():
        parts.append(f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='{png_data_uri(png)}'>")
    parts.append("<h2>Images</h2><p>Columns: ground truth, measurement (rescaled for display), then each "
                 f"sampler in the order {html.escape(', '.join(runs))}.</p>")
    for title, png in grids.items():
        parts.append(f"<h3>{html.escape(title)}</h3><img alt='{html.escape(title)}' src='{png_data_uri(png)}'>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
