import sys

import torch

from spgd.pipeline.files import read_result
from spgd.pipeline.steps import degrade
from spgd.reporting.images import image_grid

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = read_result(snakemake.input.images, ("images", "ids"))
settings = snakemake.params.settings
y = degrade(data["images"], data["ids"], snakemake.wildcards.task, settings["options"], settings["seed"])
# what a sample job needs besides y, so that it never reads the ground truth
torch.save({"y": y, "ids": data["ids"], "image_shape": list(data["images"].shape[1:])}, snakemake.output.measurements)
image_grid([[x, m] for x, m in zip(data["images"], y)], snakemake.output.preview)
