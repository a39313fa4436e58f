import sys

from spgd.pipeline.files import read_manifest, write_dataset
from spgd.pipeline.steps import load_dataset
from spgd.tuning import check_disjoint

sys.stderr = open(snakemake.log[0], "w", buffering=1)
settings = snakemake.params.settings
images, manifest = load_dataset(settings["spec"], settings["seed"], settings["mixture"], snakemake.wildcards.dataset)
if "test_manifest" in snakemake.input.keys():  # validation images: none may be a test image
    check_disjoint(read_manifest(snakemake.input.test_manifest), manifest)
write_dataset(images, manifest, snakemake.output.images, snakemake.output.manifest)
