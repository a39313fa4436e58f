import sys

import pandas as pd

from spgd.reporting.figures import plot_angles

sys.stderr = open(snakemake.log[0], "w", buffering=1)
traces = [pd.read_csv(path).assign(sampler=sampler, task=task)
          for task, sampler, path in snakemake.params.settings["traces"]]
plot_angles(pd.concat(traces, ignore_index=True), snakemake.output[0])
