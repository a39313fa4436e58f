import sys
from pathlib import Path

import pandas as pd

from spgd.reporting.figures import plot_angles

sys.stderr = open(snakemake.log[0], "w")
parts = []
for path in snakemake.input:
    run, task = Path(path).parent.name, Path(path).parent.parent.name
    parts.append(pd.read_csv(path).assign(run=run, task=task))
plot_angles(pd.concat(parts, ignore_index=True), snakemake.output[0])
