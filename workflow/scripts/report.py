import json
import sys
from pathlib import Path

import pandas as pd
import torch

from spgd.report import png_bytes, render
from spgd.runs import image_grid

MAX_IMAGES_SHOWN = 4

sys.stderr = open(snakemake.log[0], "w")
config = snakemake.params.config
stats = [json.loads(Path(p).read_text()) for p in snakemake.input.stats]
load = lambda path: torch.load(path, weights_only=True)
grids = {}
for dataset in config["datasets"]:
    data = load(f"results/data/{dataset}/images.pt")
    for task in config["tasks"]:
        columns = [data["images"], load(f"results/degraded/{dataset}/{task}/measurements.pt")["y"]]
        for run in config["samplers"]:
            prefix = f"results/samples/{dataset}/{task}/{run}/shard"
            shards = sorted((p for p in snakemake.input.restored if p.startswith(prefix)), key=lambda p: int(p[len(prefix):-3]))
            columns.append(torch.cat([load(p)["x"] for p in shards]))
        rows = [[column[i] for column in columns] for i in range(min(MAX_IMAGES_SHOWN, len(data["ids"])))]
        grids[f"{dataset} / {task}"] = png_bytes(lambda handle: image_grid(rows, handle))
ablations = pd.read_csv(snakemake.input.ablations)
figures = {"Ablations": Path(snakemake.input.ablation_plot).read_bytes()} if len(ablations) else {}
for path in snakemake.input.angle_figures:
    figures[f"Gradient angles: {Path(path).stem.removeprefix('angles_')}"] = Path(path).read_bytes()
Path(snakemake.output[0]).write_text(render(config, pd.read_csv(snakemake.input.tidy), stats, grids, figures))
