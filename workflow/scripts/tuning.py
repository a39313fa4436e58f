import sys

import pandas as pd

from spgd.reporting.figures import plot_stability
from spgd.tuning import tuning_results, write_selected

sys.stderr = open(snakemake.log[0], "w", buffering=1)
settings = snakemake.params.settings
per_image = pd.concat([pd.read_csv(path) for path in snakemake.input.per_image], ignore_index=True)
choices, points, stability = tuning_results(per_image, pd.DataFrame(settings["points"]), settings["metric"])
write_selected(snakemake.output.selected, choices, settings["metric"])
points.to_csv(snakemake.output.profile, index=False)
stability.to_csv(snakemake.output.stability, index=False)
plot_stability(points, choices, snakemake.output.plot)
for choice in choices:
    print(f"{choice['dataset']} / {choice['task']} / {choice['sampler']}: {choice['parameter']} "
          f"{choice['configured']:g} configured, {choice['selected']:g} selected", file=sys.stderr)
