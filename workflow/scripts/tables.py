import sys

import pandas as pd

from spgd.figures import plot_ablations
from spgd.tables import ablation_table, paper_table, summarise, to_latex, to_markdown

sys.stderr = open(snakemake.log[0], "w")
per_image = pd.concat([pd.read_csv(path) for path in snakemake.input], ignore_index=True)
tidy = summarise(per_image)
tidy.to_csv(snakemake.output.tidy, index=False)
markdown, latex = [], []
for dataset, part in tidy.groupby("dataset", sort=False):
    table = paper_table(part, snakemake.params.runs, snakemake.params.tasks)
    markdown.append(f"### {dataset}\n\n" + to_markdown(table))
    latex.append(f"% {dataset}\n" + to_latex(table))
open(snakemake.output.markdown, "w").write("\n".join(markdown))
open(snakemake.output.latex, "w").write("\n".join(latex))
ablations = ablation_table(tidy, snakemake.params.grids)
ablations.to_csv(snakemake.output.ablations, index=False)
plot_ablations(ablations, snakemake.output.ablation_plot)
