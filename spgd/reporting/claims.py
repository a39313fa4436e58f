"""The paper's claims, each given a verdict from this run's evidence.

Each claim is a family of paired comparisons over images (``statistics.paired_difference``: mean
per-image difference, Wilcoxon signed-rank p-value), one per task and metric (and opponent). The
p-values of one claim's family are adjusted together by Holm's step-down method, so the chance of
any false "supported" or "contradicted" within a claim stays at most ``alpha``. A comparison is

- *supported* when its adjusted p-value is below ``alpha`` and the difference goes the claimed way,
- *contradicted* when it is below ``alpha`` and the difference goes the other way,
- *inconclusive* otherwise: at few images the exact test cannot reach ``alpha`` at all (4 images:
  its smallest two-sided p-value is 0.125), and the wording then says so.

A claim as a whole is supported when at least one comparison is and none contradicts it,
contradicted in the mirror case, and inconclusive otherwise (mixed, or nothing significant)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from ..metrics import HIGHER_IS_BETTER, LABELS
from .statistics import Comparison, paired_difference, smallest_p

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"


def holm(p_values) -> list[float]:
    """Holm's step-down adjustment of ``p_values`` (NaN kept as NaN and not counted): the k-th
    smallest of m is multiplied by m - k + 1, made non-decreasing in that order, capped at 1."""
    p = np.asarray(p_values, dtype=float)
    valid = np.flatnonzero(np.isfinite(p))
    adjusted = np.full(len(p), math.nan)
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def verdict(difference: float, p_adjusted: float, alpha: float) -> str:
    """One comparison's verdict; ``difference`` is signed so that positive goes the claimed way."""
    if not math.isfinite(p_adjusted) or not math.isfinite(difference) or p_adjusted >= alpha or difference == 0:
        return INCONCLUSIVE
    return SUPPORTED if difference > 0 else CONTRADICTED


@dataclasses.dataclass(frozen=True)
class Pair:
    """One comparison of a claim: ``values`` against ``baseline`` per image (indexed by image), where
    the claim says ``values`` is higher (``higher`` True) or lower; ``label`` names it (task, metric)."""

    label: str
    values: pd.Series
    baseline: pd.Series
    higher: bool


def family(pairs: list[Pair], comparison: Comparison, claim: str) -> pd.DataFrame:
    """The comparisons of one claim with their Holm-adjusted p-values and verdicts: columns label,
    n (paired images), difference (values - baseline, mean over images), p, p_adjusted, verdict."""
    rows = []
    for pair in pairs:
        test = paired_difference(pair.values, pair.baseline, comparison, claim, pair.label, interval=False)
        rows.append(dict(label=pair.label, n=test["paired_n"], difference=test["difference"], p=test["p"],
                         claimed_sign=1 if pair.higher else -1))
    table = pd.DataFrame(rows, columns=["label", "n", "difference", "p", "claimed_sign"])
    table["p_adjusted"] = holm(table["p"]) if len(table) else []
    table["verdict"] = [verdict(row.claimed_sign * row.difference, row.p_adjusted, comparison.alpha)
                        for row in table.itertuples()]
    return table.drop(columns="claimed_sign")


def overall(verdicts) -> str:
    """A claim's verdict from its comparisons' (see the module's text)."""
    found = set(verdicts)
    if SUPPORTED in found and CONTRADICTED not in found:
        return SUPPORTED
    if CONTRADICTED in found and SUPPORTED not in found:
        return CONTRADICTED
    return INCONCLUSIVE


def wording(table: pd.DataFrame, alpha: float, unit: str = "images") -> str:
    """What a family of comparisons shows, in no stronger words than its tests allow; ``unit``: what
    its pairs are (images, or the swept tasks of the stability claim)."""
    if table.empty:
        return "not tested: this run has none of the samplers or data the claim needs"
    counts = table["verdict"].value_counts()
    parts = [f"{counts.get(v, 0)} of {len(table)} comparisons {v}" for v in (SUPPORTED, CONTRADICTED)
             if counts.get(v, 0)]
    text = "; ".join(parts) if parts else f"no comparison of {len(table)} significant at {alpha:g} after Holm"
    least = int(table["n"].min())
    if least and smallest_p(least) >= alpha:
        text += (f" (at {least} {unit} the signed-rank test cannot give p below {smallest_p(least):.3g}:"
                 " inconclusive at this n, whatever the data)")
    return text


def metric_pairs(means: dict[tuple, pd.Series], dataset: str, tasks: list[str], metrics: list[str], better: str,
                 baseline: str) -> list[Pair]:
    """Pairs of "``better`` restores better than ``baseline``" per task and metric, from per-image
    means ({(dataset, task, sampler, metric): series by image}, ``summary.image_means``)."""
    pairs = []
    for task in tasks:
        for metric in metrics:
            ours, theirs = means.get((dataset, task, better, metric)), means.get((dataset, task, baseline, metric))
            if ours is not None and theirs is not None:
                label = f"{dataset} / {task}, {LABELS.get(metric, metric)}, {better} vs {baseline}"
                pairs.append(Pair(label, ours, theirs, HIGHER_IS_BETTER[metric]))
    return pairs


def identical_scores(means: dict[tuple, pd.Series], first: str, second: str) -> tuple[bool, int]:
    """Whether ``first`` and ``second`` have equal per-image scores on every dataset, task, metric
    and image they share, and how many such values were compared."""
    compared, equal = 0, True
    for (dataset, task, sampler, metric), values in means.items():
        other = means.get((dataset, task, second, metric)) if sampler == first else None
        if other is not None:
            joined = pd.concat([values, other], axis=1, join="inner")
            compared += len(joined)
            equal &= bool((joined.iloc[:, 0] == joined.iloc[:, 1]).all())
    return equal and compared > 0, compared


def consecutive_angles(trace: pd.DataFrame) -> dict[tuple, pd.Series]:
    """{(dataset, task, sampler): each image's mean angle between consecutive likelihood gradients
    over the sampler's steps} from step-level trace rows (columns dataset, task, sampler, image,
    level, angle_likelihood_consecutive)."""
    steps = trace[(trace["level"] == "step") & np.isfinite(trace["angle_likelihood_consecutive"])]
    means = steps.groupby(["dataset", "task", "sampler", "image"], sort=False)["angle_likelihood_consecutive"].mean()
    return {key: group.droplevel([0, 1, 2]) for key, group in means.groupby(level=[0, 1, 2], sort=False)}


@dataclasses.dataclass
class Claim:
    """One claim of the paper with this run's evidence: ``comparisons`` (``family``'s table, or
    other evidence's rows), its verdict and the words for it."""

    key: str
    text: str
    comparisons: pd.DataFrame
    verdict: str
    evidence: str


def judged(key: str, text: str, pairs: list[Pair], comparison: Comparison, unit: str = "images") -> Claim:
    table = family(pairs, comparison, key)
    return Claim(key, text, table, overall(table["verdict"]) if len(table) else INCONCLUSIVE,
                 wording(table, comparison.alpha, unit))


def first_of(variants: dict[str, str], variant: str) -> str | None:
    """The first sampler (of {name: variant}, in config order) that runs ``variant``."""
    return next((name for name, v in variants.items() if v == variant), None)


def paper_claims(per_image: pd.DataFrame, variants: dict[str, str], comparison: Comparison,
                 trace: pd.DataFrame | None = None, stability: pd.DataFrame | None = None) -> list[Claim]:
    """Claims (a) to (f) of the paper, judged on every dataset of ``per_image`` (per-image scores,
    ``summary.PER_IMAGE_COLUMNS``) for the samplers ``variants`` ({name: variant}) names;
    ``trace``: step-level angle rows (with task and sampler) for (e); ``stability``: the sweep's
    ``spgd.tuning.stability_table`` for (d). A claim whose samplers or data this run lacks says so."""
    from .summary import image_means

    means = image_means(per_image)
    keys = list(dict.fromkeys((dataset, task) for dataset, task, _, _ in means))
    metrics = list(dict.fromkeys(metric for *_, metric in means))
    name = {variant: first_of(variants, variant) for variant in set(variants.values())}
    spgd, dps, daps = name.get("spgd"), name.get("dps"), name.get("daps")

    def pairs(better, baseline):
        if not better or not baseline:
            return []
        return [pair for dataset in dict.fromkeys(d for d, _ in keys)
                for pair in metric_pairs(means, dataset, [t for d, t in keys if d == dataset], metrics, better,
                                         baseline)]

    claims = [judged("a", "SPGD restores better than DPS and than DAPS, per task and metric",
                     pairs(spgd, dps) + pairs(spgd, daps), comparison),
              judged("b", "the warm-up helps (SPGD against SPGD without warm-up)",
                     pairs(spgd, name.get("spgd_no_warmup")), comparison)]
    adm = judged("c", "ADM helps (SPGD with ADM applied against SPGD without ADM), and the released code "
                      "equals no ADM", pairs(name.get("spgd_adm"), name.get("spgd_no_adm")), comparison)
    if spgd and name.get("spgd_no_adm"):
        equal, compared = identical_scores(means, spgd, name["spgd_no_adm"])
        adm.evidence += (f". Released SPGD ({spgd}) against no ADM ({name['spgd_no_adm']}): "
                         f"{'identical' if equal else 'different'} scores on the {compared} (dataset, task, metric, "
                         "image) values compared")
        if not equal and adm.verdict == SUPPORTED:
            adm.verdict = INCONCLUSIVE  # the second half of the claim fails
    claims.append(adm)
    claims.append(stability_claim(stability, spgd, dps, comparison))
    claims.append(angle_claim(trace, spgd, dps, comparison))
    claims.append(judged("f", "the gradient management helps DPS at equal NFE (DPS-GM against DPS)",
                         pairs(name.get("dps_gm"), dps), comparison))
    return claims


def angle_claim(trace: pd.DataFrame | None, spgd: str | None, dps: str | None, comparison: Comparison) -> Claim:
    """(e): SPGD's consecutive likelihood-gradient angles are smaller than DPS's, per task, paired
    over images (each image's mean angle over the sampler's steps)."""
    text = "SPGD reduces the fluctuation of the likelihood gradient (consecutive-step angles, against DPS)"
    angles = consecutive_angles(trace) if trace is not None and len(trace) else {}
    cells = list(dict.fromkeys((dataset, task) for dataset, task, _ in angles))
    pairs = [Pair(f"{dataset} / {task}, mean consecutive angle, {spgd} vs {dps}", angles[(dataset, task, spgd)],
                  angles[(dataset, task, dps)], higher=False)
             for dataset, task in cells if (dataset, task, spgd) in angles and (dataset, task, dps) in angles]
    return judged("e", text, pairs, comparison)


def stability_claim(stability: pd.DataFrame | None, spgd: str | None, dps: str | None,
                    comparison: Comparison) -> Claim:
    """(d): SPGD's stable width is larger, its divergence rate and seed spread smaller than DPS's,
    each paired over the swept (dataset, task)s of ``stability`` (``spgd.tuning.stability_table``)."""
    text = "SPGD is more stable than DPS: stable width, divergence rate, seed spread"
    if stability is None or stability.empty:
        return Claim("d", text, family([], comparison, "d"), INCONCLUSIVE,
                     "not tested: this run has no step-size sweep (tuning)")
    by_sampler = {sampler: part.set_index(["dataset", "task"]) for sampler, part in stability.groupby("sampler")}
    if spgd not in by_sampler or dps not in by_sampler:
        return Claim("d", text, family([], comparison, "d"), INCONCLUSIVE,
                     f"not tested: the sweep does not tune both {spgd} and {dps}")
    pairs = [Pair(f"{column.replace('_', ' ')} over swept tasks, {spgd} vs {dps}",
                  by_sampler[spgd][column].set_axis(by_sampler[spgd].index.map("/".join)),
                  by_sampler[dps][column].set_axis(by_sampler[dps].index.map("/".join)), higher)
             for column, higher in (("stable_width", True), ("divergence_rate", False), ("seed_spread", False))]
    return judged("d", text, pairs, comparison, unit="swept tasks")


CLAIM_COLUMNS = ["claim", "text", "claim_verdict", "evidence", "label", "n", "difference", "p", "p_adjusted", "verdict"]


def claims_table(claims: list[Claim]) -> pd.DataFrame:
    """One row per comparison of each claim (a claim without any: one row that says why), with the
    claim's verdict and evidence beside it: the file ``results/tables/claims.csv``."""
    rows = []
    for claim in claims:
        head = dict(claim=claim.key, text=claim.text, claim_verdict=claim.verdict, evidence=claim.evidence)
        rows += [{**head, **row} for row in claim.comparisons.to_dict("records")] or [head]
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)
