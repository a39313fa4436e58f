import json
import sys

import pandas as pd
import torch

from spgd.devices import set_torch_threads
from spgd.pipeline.files import read_result, shard_indices
from spgd.pipeline.steps import restore_shard
from spgd.samplers.base import TRACE_COLUMNS
from spgd.tuning import read_selected, with_selected

sys.stderr = open(snakemake.log[0], "w", buffering=1)
settings = snakemake.params.settings
set_torch_threads(settings["threads"], snakemake.threads, sys.stderr)
measured = read_result(snakemake.input.measurements, ("y", "ids", "image_shape"))
channels, image_size = measured["image_shape"][0], measured["image_shape"][-1]
index = shard_indices(len(measured["ids"]), int(snakemake.wildcards.shard), settings["shard_size"])
ids = [measured["ids"][i] for i in index]
samplers = settings["samplers"]
if snakemake.input.get("selected"):  # hyperparameters: tuned
    chosen = read_selected(snakemake.input.selected)
    samplers = [spec if base is None else with_selected(spec, snakemake.wildcards.dataset, snakemake.wildcards.task,
                                                        chosen, base)
                for spec, base in zip(samplers, settings["tuned_as"])]
outputs = zip(samplers, settings["traced"], snakemake.output.restored, snakemake.output.stats,
              snakemake.output.trace)
# one sampler per job, or (sample_jobs: per_task) every sampler of the task, one after the other
for sampler, traced, restored_file, stats_file, trace_file in outputs:
    restored, stats, trace = restore_shard(
        settings["prior"], sampler, snakemake.wildcards.task, settings["options"], ids, measured["y"][index],
        image_size, channels, settings["seed"], settings["device"], trace=traced,
        progress_file=sys.stderr, repeats=settings["repeats"], speed=settings["speed"],
        # read here, not a setting: the batch size changes no output, so changing it reruns nothing
        batch_size=snakemake.config["batch_size"],
    )
    stats = {"dataset": snakemake.wildcards.dataset, **stats}
    torch.save({"x": restored, "ids": ids, "diverged_step": torch.tensor(stats["diverged_step"])}, restored_file)
    # header only when this (task, sampler) is not traced for the angle figure
    pd.DataFrame(trace or [], columns=TRACE_COLUMNS).to_csv(trace_file, index=False)
    with open(stats_file, "w") as handle:
        json.dump(stats, handle, indent=1)
    print(f"{sampler.name} {snakemake.wildcards.task}: {len(ids)} images x {stats['repeats']} repeats, "
          f"{stats['wall_seconds']:.1f} s, diverged {sum(map(sum, stats['diverged']))}", file=sys.stderr)
