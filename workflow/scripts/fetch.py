import sys

from spgd.pipeline.fetch import fetch

sys.stderr = open(snakemake.log[0], "w", buffering=1)
record = fetch(snakemake.params.settings["item"])
print(f"{record['path']}: {record['source']}, {record['size']} bytes, sha256 {record['sha256']}", file=sys.stderr)
