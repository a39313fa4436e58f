import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from spgd.pipeline.files import check_shard_records, read_json_result, read_manifest_ids
from spgd.reporting.figures import ablation_scores, plot_ablations, plot_quality_cost, quality_metric
from spgd.reporting.formats import write_result_tables
from spgd.reporting.published import read_published
from spgd.reporting.statistics import Comparison
from spgd.reporting.summary import (ablation_table, cost_table, diverged_note, fully_diverged, sampling_summary,
                                    summarise)
from spgd.reporting.tables import result_tables

sys.stderr = open(snakemake.log[0], "w", buffering=1)
inputs, params = snakemake.input, SimpleNamespace(**snakemake.params.settings)
read = lambda paths: pd.concat([pd.read_csv(p) for p in paths], ignore_index=True) if paths else None
per_image, per_set = read(inputs.per_image), read(inputs.per_set)
comparison = Comparison(**params.comparison)
tidy = summarise(per_image, per_set, comparison)
tidy.to_csv(snakemake.output.tidy, index=False)
stats = [read_json_result(path) for path in inputs.stats]
# the shards' images and repeats as the config asks (the metrics job checked the restored files)
check_shard_records(list(zip(inputs.stats, stats)),
                    {dataset: read_manifest_ids(path) for dataset, path in zip(params.datasets, inputs.manifests)},
                    params.shard_size, params.repeats)
cost = cost_table(stats)
cost.to_csv(snakemake.output.cost, index=False)
Path(snakemake.output.sampling).write_text(json.dumps(sampling_summary(stats), indent=1))
published_file = inputs.published[0] if inputs.published else None
tables = result_tables(tidy, params.samplers, params.tasks, params.metrics, comparison, params.lpips,
                       read_published(published_file) if published_file else None, published_file)
write_result_tables(tidy, tables, comparison, snakemake.output.markdown, snakemake.output.latex)
ablation_table(tidy, params.ablations).to_csv(snakemake.output.ablations, index=False)
# what diverged entirely has no value: each plot skips it and says so below its panels
note = diverged_note(fully_diverged(tidy))
plot_ablations(ablation_scores(per_image, per_set, params.ablations), snakemake.output.ablation_plot, comparison.seed,
               note)
plot_quality_cost(tidy, cost, quality_metric(params.metrics), snakemake.output.quality_cost_plot,
                  params.tasks, params.samplers, note)
