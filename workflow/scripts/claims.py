import sys

import pandas as pd

from spgd.reporting.claims import claims_table, paper_claims
from spgd.reporting.statistics import Comparison

sys.stderr = open(snakemake.log[0], "w", buffering=1)
settings = snakemake.params.settings
per_image = pd.concat([pd.read_csv(path) for path in snakemake.input.per_image], ignore_index=True)
traces = [pd.read_csv(path).assign(dataset=dataset, task=task, sampler=sampler)
          for (dataset, task, sampler), path in zip(settings["traces"], snakemake.input.traces)]
stability = pd.read_csv(snakemake.input.stability[0]) if snakemake.input.stability else None
claims = paper_claims(per_image, settings["variants"], Comparison(**settings["comparison"]),
                      pd.concat(traces, ignore_index=True) if traces else None, stability)
claims_table(claims).to_csv(snakemake.output[0], index=False)
for claim in claims:
    print(f"({claim.key}) {claim.verdict}: {claim.evidence}", file=sys.stderr)
