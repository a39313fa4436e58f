import json
import sys

from spgd.metrics.weights import provision

sys.stderr = open(snakemake.log[0], "w", buffering=1)
settings = snakemake.params.settings
records = provision(settings["hub_dir"], download=settings["download"], convert=settings["convert"],
                    keys=tuple(settings["files"]))
for record in records:
    state = record["source"] if record["available"] else f"UNAVAILABLE: {record['reason']}"
    print(f"{record['file']}: {state}", file=sys.stderr)
with open(snakemake.output[0], "w") as handle:
    json.dump(records, handle, indent=1)
