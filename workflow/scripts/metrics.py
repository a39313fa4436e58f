"""All metrics of one dataset and task, every sampler configuration (one job loads the networks once)."""
import json
import sys
from pathlib import Path

import pandas as pd
import torch

from spgd.data import export_pngs
from spgd.metrics import unavailable_metrics
from spgd.metrics.evaluate import score_images, score_sets
from spgd.reporting.tables import PER_IMAGE_COLUMNS, SET_COLUMNS

sys.stderr = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.threads)
data = torch.load(snakemake.input.images, weights_only=True)
truth = dict(zip(data["ids"], data["images"]))
unavailable = unavailable_metrics(json.load(open(snakemake.input.weights)))
hub_dir, png, params = snakemake.params.hub_dir, Path(snakemake.output.png), snakemake.params
per_image, per_set = [], []
for run, paths in params.shards.items():
    keys = dict(dataset=snakemake.wildcards.dataset, task=snakemake.wildcards.task, sampler=run)
    for path in paths:
        shard = torch.load(path, weights_only=True)
        reference = torch.stack([truth[i] for i in shard["ids"]])
        rows = score_images(shard["x"], reference, shard["ids"], params.per_image, hub_dir, unavailable)
        per_image += [{**keys, **row} for row in rows]
        for repeat, restored in enumerate(shard["x"]):  # 8-bit PNGs, one folder per run, for FID/KID
            export_pngs(restored, shard["ids"], png / run / f"r{repeat}")
    if params.per_set:
        folders = [png / run / f"r{repeat}" for repeat in range(params.runs)]
        rows = score_sets(folders, snakemake.input.truth_png, params.per_set, hub_dir, unavailable, seed=params.seed)
        per_set += [{**keys, **row} for row in rows]
        for row in rows:
            print(f"{run} run {row['repeat']} {row['metric']}: {row['value']:.5g} on {row['n']} images "
                  f"{row['unavailable']}", file=sys.stderr)
pd.DataFrame(per_image, columns=PER_IMAGE_COLUMNS).to_csv(snakemake.output.per_image, index=False)
pd.DataFrame(per_set, columns=SET_COLUMNS).to_csv(snakemake.output.per_set, index=False)
