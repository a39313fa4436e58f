import sys

import torch

from spgd.pipeline.steps import degrade
from spgd.reporting.images import image_grid

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = torch.load(snakemake.input.images, weights_only=True)
y = degrade(data["images"], data["ids"], snakemake.wildcards.task, snakemake.params.options, snakemake.params.seed)
# what a sample job needs besides y, so that it never reads the ground truth
torch.save({"y": y, "ids": data["ids"], "image_shape": list(data["images"].shape[1:])}, snakemake.output.measurements)
image_grid([[x, m] for x, m in zip(data["images"], y)], snakemake.output.preview)
