import sys

import pandas as pd
import torch

from spgd.metrics import METRICS

sys.stderr = open(snakemake.log[0], "w")
data = torch.load(snakemake.input.images, weights_only=True)
truth = dict(zip(data["ids"], data["images"]))
rows = []
for path in snakemake.input.shards:
    shard = torch.load(path, weights_only=True)
    reference = torch.stack([truth[i] for i in shard["ids"]])
    diverged = ~torch.isfinite(shard["x"].flatten(1)).all(1)
    scores = {name: METRICS[name](shard["x"], reference).tolist() for name in snakemake.params.metrics}
    for b, image_id in enumerate(shard["ids"]):
        rows.append(dict(dataset=snakemake.wildcards.dataset, task=snakemake.wildcards.task,
                         sampler=snakemake.wildcards.run, image=image_id, diverged=bool(diverged[b]),
                         **{name: values[b] for name, values in scores.items()}))
pd.DataFrame(rows).to_csv(snakemake.output[0], index=False)
