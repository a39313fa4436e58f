"""Every metric of one dataset and task (or of every task), every sampler; the networks load once a job."""
import json
import sys

from spgd.devices import set_torch_threads
from spgd.metrics import unavailable_metrics
from spgd.pipeline.steps import score_task

sys.stderr = open(snakemake.log[0], "w", buffering=1)
settings = snakemake.params.settings
set_torch_threads(settings["threads"], snakemake.threads, sys.stderr)
unavailable = unavailable_metrics(json.load(open(snakemake.input.weights)))
# one task, or (metrics_jobs: per_dataset) every task of the dataset, in the order of the outputs; a
# tuning sweep's job scores per image only (no set metrics, no PNGs)
tasks = len(settings["shards"])
outputs = zip(settings["shards"].items(), snakemake.output.per_image, snakemake.output.get("per_set", [None] * tasks),
              snakemake.output.get("png", [None] * tasks))
for (task, shards), per_image_file, per_set_file, png_dir in outputs:
    per_image, per_set = score_task(
        snakemake.input.images, shards, dict(dataset=snakemake.wildcards.dataset, task=task), settings["per_image"],
        settings["per_set"], settings["hub_dir"], unavailable, png_dir, snakemake.input.get("truth_png"),
        settings["repeats"], settings["seed"], settings["shard_size"],
        log=lambda message: print(message, file=sys.stderr),
    )
    per_image.to_csv(per_image_file, index=False)
    if per_set_file:
        per_set.to_csv(per_set_file, index=False)
