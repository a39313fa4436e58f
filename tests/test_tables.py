import math

import pandas as pd

from spgd.tables import paper_table, summarise, to_latex, to_markdown


def per_image():
    return pd.DataFrame([
        dict(dataset="d", task="sr4", sampler="spgd", image="a", diverged=False, psnr=20.0, ssim=0.5),
        dict(dataset="d", task="sr4", sampler="spgd", image="b", diverged=False, psnr=22.0, ssim=0.7),
        dict(dataset="d", task="sr4", sampler="dps", image="a", diverged=False, psnr=25.0, ssim=0.4),
        dict(dataset="d", task="sr4", sampler="dps", image="b", diverged=True, psnr=math.nan, ssim=math.nan),
    ])


def test_summary_counts_diverged_images_instead_of_averaging_them():
    tidy = summarise(per_image())
    spgd = tidy[(tidy.sampler == "spgd") & (tidy.metric == "psnr")].iloc[0]
    assert (spgd["mean"], spgd["n"], spgd["diverged"]) == (21.0, 2, 0)
    assert spgd["std"] == math.sqrt(2.0)
    dps = tidy[(tidy.sampler == "dps") & (tidy.metric == "psnr")].iloc[0]
    assert (dps["mean"], dps["n"], dps["diverged"]) == (25.0, 1, 1) and math.isnan(dps["std"])


def test_paper_table_marks_the_best_value_per_column():
    table = paper_table(summarise(per_image()), ["spgd", "dps"], ["sr4"])
    assert list(table.index) == ["spgd", "dps"] and list(table.columns) == [("sr4", "psnr"), ("sr4", "ssim")]
    markdown = to_markdown(table)
    assert "| dps | **25.00** | 0.40 |" in markdown and "| spgd | 21.00 | **0.60** |" in markdown
    assert r"\textbf{25.00}" in to_latex(table)
