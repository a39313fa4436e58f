import json
import sys

import torch

from spgd.runs import restore_shard, shard_indices

sys.stderr = open(snakemake.log[0], "w")
torch.set_num_threads(snakemake.threads)
data = torch.load(snakemake.input.images, weights_only=True)
measured = torch.load(snakemake.input.measurements, weights_only=True)
index = shard_indices(len(data["ids"]), int(snakemake.wildcards.shard), snakemake.params.shard_size)
ids = [data["ids"][i] for i in index]
restored, stats, _ = restore_shard(
    snakemake.params.prior, snakemake.params.sampler, snakemake.wildcards.task, snakemake.params.options,
    ids, measured["y"][index], data["images"].shape[-1], data["images"].shape[1],
    snakemake.params.seed, snakemake.params.device,
)
torch.save({"x": restored, "ids": ids}, snakemake.output.restored)
with open(snakemake.output.stats, "w") as handle:
    json.dump(stats, handle, indent=1)
print(f"{snakemake.wildcards.run} {snakemake.wildcards.task}: {len(ids)} images, "
      f"{stats['wall_seconds']:.1f} s, diverged {sum(stats['diverged'])}", file=sys.stderr)
