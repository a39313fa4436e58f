import json
import sys

from spgd.pipeline.fetch import provenance

sys.stderr = open(snakemake.log[0], "w", buffering=1)
records = [provenance(item) for item in snakemake.params.settings["external"]]
with open(snakemake.output[0], "w") as handle:
    json.dump(records, handle, indent=1)
