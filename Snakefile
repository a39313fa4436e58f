# SPGD reproduction: data -> degrade -> sample -> metrics -> tables -> report.
from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"

# Default config: config/config.yaml (demo settings). Paper settings: --configfile config/paper.yaml.

# The embedded default applies only when no --configfile is given: Snakemake would otherwise
# deep-merge the given file into the default (demo datasets leaking into a paper run).
if not config:

    configfile: "config/config.yaml"


wildcard_constraints:
    dataset="[^/]+",
    task="[^/]+",
    sampler="[^/]+",
    shard="[0-9]+",


include: "workflow/rules/common.smk"
include: "workflow/rules/fetch.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/degrade.smk"
include: "workflow/rules/sample.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tuning.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/demo_prior.smk"


# Cheap steps run where Snakemake runs (on a cluster: the login node, which also has the network
# the metric networks may be downloaded over); sampling and metrics go to the cluster.
localrules:
    all,
    input_provenance,
    dataset,
    degrade,
    metric_weights,
    truth_png,
    tables,
    claims,
    angle_figure,
    validation_dataset,
    sweep_degrade,
    tuning,
    report_html,


# Sample outputs are targets too: Snakemake ignores a deleted intermediate file whose dependents
# are up to date (snakemake#1978), and a deleted sample output must be recomputed.
rule all:
    input:
        RESULTS["html_report"],
        RESULTS["inputs"],
        every("restored"),
        [result("sweep_restored", dataset=dataset, task=task, sampler=sampler, shard=shard)
         for dataset in TUNED_DATASETS for task in sweep_tasks(dataset) for sampler in SWEEP_SAMPLERS
         for shard in sweep_shards(dataset)],
