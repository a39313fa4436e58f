import json
import sys

from spgd.pipeline.steps import preflight

sys.stderr = open(snakemake.log[0], "w", buffering=1)
settings = snakemake.params.settings
found = preflight(settings["prior"], settings["device"], settings["pin_file"])
print(f"preflight: {found}", file=sys.stderr)
with open(snakemake.output[0], "w") as handle:
    json.dump(found, handle, indent=1)
