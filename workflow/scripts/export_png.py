import sys

import torch

from spgd.data import export_pngs

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = torch.load(snakemake.input.images, weights_only=True)
written = export_pngs(data["images"], data["ids"], snakemake.output[0])
print(f"wrote {len(written)} ground-truth PNGs to {snakemake.output[0]}", file=sys.stderr)
