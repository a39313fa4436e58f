import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import yaml

from spgd.reporting.images import IMAGES_SHOWN, task_grid
from spgd.reporting.published import read_published
from spgd.reporting.report import render

sys.stderr = open(snakemake.log[0], "w", buffering=1)
inputs, params = snakemake.input, SimpleNamespace(**snakemake.params.settings)
read_json = lambda path: json.loads(Path(path).read_text())
image_grids = {title: task_grid(files["images"], files["measurements"], files["restored"], IMAGES_SHOWN)
               for title, files in params.image_grids.items()}
figures = {"Quality against cost": Path(inputs.quality_cost_plot).read_bytes()}
if len(pd.read_csv(inputs.ablations)):
    figures["Ablations"] = Path(inputs.ablation_plot).read_bytes()
for dataset, path in zip(params.angle_datasets, inputs.angle_figures):
    figures[f"Gradient angles: {dataset}"] = Path(path).read_bytes()
tuning = None
if inputs.tuning:  # selected.yaml, stability.csv, stability.png
    selected, stability, plot = inputs.tuning
    tuning = dict(choices=yaml.safe_load(Path(selected).read_text())["choices"], stability=pd.read_csv(stability))
    figures["Step-size sweep: mean PSNR against the step size"] = Path(plot).read_bytes()
Path(snakemake.output[0]).write_text(render(
    params.config, params.samplers, pd.read_csv(inputs.tidy), pd.read_csv(inputs.cost), read_json(inputs.sampling),
    image_grids, figures, read_json(inputs.weights), read_json(inputs.external_inputs),
    read_published(inputs.published[0]) if inputs.published else None, pd.read_csv(inputs.claims), tuning))
