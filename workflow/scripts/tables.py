import sys

import pandas as pd

from spgd.reporting.figures import plot_ablations
from spgd.reporting.tables import ablation_table, summarise, write_result_tables

sys.stderr = open(snakemake.log[0], "w", buffering=1)
read = lambda paths: pd.concat([pd.read_csv(p) for p in paths], ignore_index=True) if paths else None
tidy = summarise(read(snakemake.input.per_image), read(snakemake.input.per_set))
tidy.to_csv(snakemake.output.tidy, index=False)
write_result_tables(tidy, snakemake.params.samplers, snakemake.params.tasks, snakemake.params.metrics,
                    snakemake.output.markdown, snakemake.output.latex)
ablations = ablation_table(tidy, snakemake.params.ablations)
ablations.to_csv(snakemake.output.ablations, index=False)
plot_ablations(ablations, snakemake.output.ablation_plot)
