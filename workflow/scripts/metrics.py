"""Every metric of one dataset and task, every sampler (one job loads the networks once)."""
import json
import sys

import torch

from spgd.metrics import unavailable_metrics
from spgd.pipeline.steps import score_task

sys.stderr = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
params = snakemake.params
per_image, per_set = score_task(
    snakemake.input.images, params.shards, dict(dataset=snakemake.wildcards.dataset, task=snakemake.wildcards.task),
    params.per_image, params.per_set, params.hub_dir, unavailable_metrics(json.load(open(snakemake.input.weights))),
    snakemake.output.png, snakemake.input.get("truth_png"), params.repeats, params.seed,
    log=lambda message: print(message, file=sys.stderr),
)
per_image.to_csv(snakemake.output.per_image, index=False)
per_set.to_csv(snakemake.output.per_set, index=False)
