import sys

from spgd.data import export_pngs
from spgd.pipeline.files import read_result

sys.stderr = open(snakemake.log[0], "w", buffering=1)
data = read_result(snakemake.input.images, ("images", "ids"))
written = export_pngs(data["images"], data["ids"], snakemake.output[0])
print(f"wrote {len(written)} ground-truth PNGs to {snakemake.output[0]}", file=sys.stderr)
