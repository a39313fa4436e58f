import json
import sys
from pathlib import Path

import pandas as pd
import torch

from spgd.reporting.images import image_grid, png_bytes
from spgd.reporting.report import render

MAX_IMAGES_SHOWN = 4

sys.stderr = open(snakemake.log[0], "w")
config = snakemake.params.config
stats = [json.loads(Path(p).read_text()) for p in snakemake.input.stats]
load = lambda path: torch.load(path, weights_only=True)


def first_restored(prefix, count):
    """The first ``count`` images of a run's first restoration, reading only the shards that hold them."""
    shards = sorted((p for p in snakemake.input.restored if p.startswith(prefix)), key=lambda p: int(p[len(prefix):-3]))
    images = []
    for path in shards:
        images.extend(load(path)["x"][0])
        if len(images) >= count:
            break
    return images[:count]


grids = {}
for dataset in config["datasets"]:
    data = load(f"results/data/{dataset}/images.pt")
    shown = min(MAX_IMAGES_SHOWN, len(data["ids"]))
    for task in snakemake.params.tasks[dataset]:
        columns = [data["images"][:shown], load(f"results/degraded/{dataset}/{task}/measurements.pt")["y"][:shown]]
        for run in config["samplers"]:
            columns.append(first_restored(f"results/samples/{dataset}/{task}/{run}/shard", shown))
        rows = [[column[i] for column in columns] for i in range(shown)]
        grids[f"{dataset} / {task}"] = png_bytes(lambda handle: image_grid(rows, handle))
ablations = pd.read_csv(snakemake.input.ablations)
figures = {"Ablations": Path(snakemake.input.ablation_plot).read_bytes()} if len(ablations) else {}
for path in snakemake.input.angle_figures:
    figures[f"Gradient angles: {Path(path).stem.removeprefix('angles_')}"] = Path(path).read_bytes()
weights = json.loads(Path(snakemake.input.weights).read_text())
inputs = json.loads(Path(snakemake.input.external_inputs).read_text())
Path(snakemake.output[0]).write_text(render(config, pd.read_csv(snakemake.input.tidy), stats, grids, figures,
                                            weights, inputs))
