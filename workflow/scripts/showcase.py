import datetime
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from spgd.reporting.figures import plot_restorations
from spgd.reporting.formats import findings_markdown
from spgd.reporting.images import task_grid
from spgd.reporting.statistics import Comparison
from spgd.reporting.tables import result_tables

sys.stderr = open(snakemake.log[0], "w", buffering=1)
inputs, params = snakemake.input, SimpleNamespace(**snakemake.params.settings)
grids = {title.split(" / ", 1)[1]: task_grid(files["images"], files["measurements"], files["restored"], 1, tile=96)
         for title, files in params.image_grids.items()}  # the first dataset's
per_image = pd.concat([pd.read_csv(path) for path in inputs.per_image], ignore_index=True)
first = per_image[(per_image["metric"] == "psnr") & (per_image["repeat"] == 0)]
scores = {(row.task, row.sampler): row.value for row in first.itertuples()
          if row.task in grids and str(row.image) == grids[row.task].rows[0][0]}
run = f"the run with {params.settings_name} settings of {datetime.date.today().isoformat()}"
demo = " Demo settings: small images and a small prior, not the paper's." if params.settings_name == "demo" else ""
first_image = next(iter(grids.values())).rows[0][0]
plot_restorations(grids, scores, snakemake.output.figure,
                  note=f"{params.dataset}, image {first_image}, from {run}: PSNR of this image under each "
                       f"restoration.{demo}")
tidy, comparison = pd.read_csv(inputs.tidy), Comparison(**params.comparison)
tables = result_tables(tidy, params.samplers, params.tasks, params.metrics, comparison, params.lpips)
header = (f"# Findings of {run}\n\nWritten by `make docs` (the showcase rule) from that run's results "
          "(results/tables/main.csv, claims.csv); do not edit by hand. Per task: the sampler with the best mean on "
          "the first paired metric and whether a paired Wilcoxon test over the images separates it from every "
          "other; then the paper's claims." + demo)
Path(snakemake.output.findings).write_text(findings_markdown(tables, tidy, comparison.alpha, pd.read_csv(inputs.claims),
                                                             header))
