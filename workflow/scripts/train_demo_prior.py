import json
import sys

import torch

from spgd.checkpoints import sha256_of
from spgd.demo.training import model_card, train_demo_prior

sys.stderr = open(snakemake.log[0], "w", buffering=1)
log = lambda message: print(message, file=sys.stderr, flush=True)
settings = snakemake.params.settings
state, record = train_demo_prior(seed=settings["seed"], threads=snakemake.threads, log=log, steps=settings["steps"])
torch.save(state, snakemake.output.weights)
record["sha256"] = sha256_of(snakemake.output.weights)  # torch.save's archive holds the file name
with open(snakemake.output.record, "w") as handle:
    json.dump(record, handle, indent=1)
with open(snakemake.output.card, "w") as handle:
    handle.write(model_card(record))
