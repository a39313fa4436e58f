import csv
import sys

import torch

from spgd.data import image_folder, mixture_samples
from spgd.demo.photos import held_out_views
from spgd.pipeline.files import read_manifest
from spgd.priors import make_prior
from spgd.tuning import check_disjoint

sys.stderr = open(snakemake.log[0], "w", buffering=1)
settings = snakemake.params.settings
spec = settings["spec"]
if spec["kind"] == "image_folder":
    images, manifest = image_folder(spec["path"], spec["image_size"], spec["start"], spec.get("count"),
                                    spec["upscale"])
elif spec["kind"] == "held_out_photos":
    images, manifest = held_out_views(spec["count"], spec["image_size"], settings["seed"], spec["start"])
else:
    prior = make_prior(settings["mixture"])
    if prior.shape[-1] != spec["image_size"]:
        raise ValueError(f"dataset {snakemake.wildcards.dataset}: image_size {spec['image_size']} differs "
                         f"from the mixture prior's side {prior.shape[-1]}")
    images, manifest = mixture_samples(prior, spec["count"], settings["seed"], spec["start"])
if "test_manifest" in snakemake.input.keys():  # validation images: none may be a test image
    check_disjoint(read_manifest(snakemake.input.test_manifest), manifest)
torch.save({"images": images, "ids": [row["id"] for row in manifest]}, snakemake.output.images)
with open(snakemake.output.manifest, "w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=["id", "source", "sha256"])
    writer.writeheader()
    writer.writerows(manifest)
