"""Verdicts on the paper's claims (spgd.reporting.claims) on synthetic paired data."""

import numpy as np
import pandas as pd
import pytest

from spgd.reporting.claims import CONTRADICTED, INCONCLUSIVE, SUPPORTED, Pair, family, holm, overall, paper_claims, wording
from spgd.reporting.statistics import Comparison

COMPARISON = Comparison(confidence=0.95)


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 of m = 4: x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    assert holm([0.01, 0.04, 0.03, float("nan"), 0.005]) == pytest.approx([0.03, 0.06, 0.06, float("nan"), 0.02],
                                                                             nan_ok=True)


def images(values):
    return pd.Series(values, index=[f"i{k}" for k in range(len(values))])


def test_verdicts_of_shifts_with_the_correction_applied():
    rng = np.random.default_rng(0)
    base = rng.normal(25, 2, 20)
    noise = lambda: rng.normal(0, 0.1, 20)
    shifted = lambda shift: Pair(f"shift {shift}", images(base + shift + noise()), images(base), higher=True)
    table = family([shifted(1.0), shifted(0.0), shifted(-1.0)], COMPARISON, "x")
    # 20 images all shifted one way: exact signed-rank p = 2 / 2^20, times 3 by Holm, far below 0.05
    assert table["verdict"].tolist() == [SUPPORTED, INCONCLUSIVE, CONTRADICTED]
    assert table["p_adjusted"][0] == pytest.approx(3 * 2 / 2**20) and table["p_adjusted"][0] > table["p"][0]
    # the correction decides: 6 images one way give p = 2/64 = 0.031 alone, 0.094 against 3 tests
    six = lambda: Pair("six", images(base[:6] + 1 + noise()[:6]), images(base[:6]), higher=True)
    assert family([six()], COMPARISON, "y")["verdict"].tolist() == [SUPPORTED]
    assert family([six(), six(), six()], COMPARISON, "y")["verdict"].tolist() == [INCONCLUSIVE] * 3
    # a claim that lower is better reverses the sign
    lower = Pair("lower", images(base - 1 + noise()), images(base), higher=False)
    assert family([lower], COMPARISON, "z")["verdict"].tolist() == [SUPPORTED]


def test_claim_verdict_and_wording():
    assert overall([SUPPORTED, INCONCLUSIVE]) == SUPPORTED and overall([SUPPORTED, CONTRADICTED]) == INCONCLUSIVE
    assert overall([CONTRADICTED]) == CONTRADICTED and overall([]) == INCONCLUSIVE
    four = family([Pair("four", images([1.0, 2, 3, 4]), images([0.0, 0, 0, 0]), higher=True)], COMPARISON, "w")
    assert four["verdict"].tolist() == [INCONCLUSIVE]  # every image better, yet p >= 0.125 at 4 images
    assert "at 4 images the signed-rank test cannot give p below 0.125" in wording(four, 0.05)


def test_paper_claims_from_per_image_scores():
    """SPGD beats DPS by 1 dB on 12 images, equals spgd_no_adm exactly, and DAPS is absent."""
    rng = np.random.default_rng(1)
    truth = rng.normal(25, 2, 12)
    scores = {"spgd": truth + 1 + rng.normal(0, 0.1, 12), "dps": truth, "spgd_no_adm": None}
    scores["spgd_no_adm"] = scores["spgd"]
    rows = [dict(dataset="d", task="sr4", sampler=sampler, image=f"i{k}", repeat=0, diverged=False, diverged_step=-1,
                 metric="psnr", value=value, unavailable="")
            for sampler, values in scores.items() for k, value in enumerate(values)]
    claims = {c.key: c for c in paper_claims(pd.DataFrame(rows), {"spgd": "spgd", "dps": "dps",
                                                                   "spgd_no_adm": "spgd_no_adm"}, COMPARISON)}
    assert claims["a"].verdict == SUPPORTED
    assert claims["a"].comparisons["label"].tolist() == ["d / sr4, PSNR, spgd vs dps"]
    assert claims["c"].verdict == INCONCLUSIVE
    assert "identical scores on the 12 (dataset, task, metric, image) values" in claims["c"].evidence
    assert claims["b"].evidence.startswith("not tested") and claims["d"].evidence.startswith("not tested")
