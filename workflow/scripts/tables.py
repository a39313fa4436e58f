import sys

import pandas as pd

from spgd.reporting.figures import plot_ablations
from spgd.reporting.tables import ablation_table, result_tables, summarise, to_latex, to_markdown

sys.stderr = open(snakemake.log[0], "w")
read = lambda paths: pd.concat([pd.read_csv(p) for p in paths], ignore_index=True) if paths else None
per_set_files = [p for p in snakemake.input if p.startswith("results/set_metrics/")]
per_image = read([p for p in snakemake.input if p not in per_set_files])
tidy = summarise(per_image, read(per_set_files))
tidy.to_csv(snakemake.output.tidy, index=False)
markdown, latex = [], []
for title, table in result_tables(tidy, snakemake.params.runs, snakemake.params.tasks, snakemake.params.metrics):
    markdown.append(f"### {title}\n\n" + to_markdown(table))
    latex.append(f"% {title}\n" + to_latex(table))
open(snakemake.output.markdown, "w").write("\n".join(markdown))
open(snakemake.output.latex, "w").write("\n".join(latex))
ablations = ablation_table(tidy, snakemake.params.grids)
ablations.to_csv(snakemake.output.ablations, index=False)
plot_ablations(ablations, snakemake.output.ablation_plot)
