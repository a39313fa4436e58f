"""Dry runs of the workflow (what ``snakemake -n --configfile F`` does) for many config files in
one process, so that the Python start-up is paid once: ``python tests/dry_runs.py WORKDIR F...``
prints {F: null, or the error that stopped the dry run} as JSON."""

import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, Quietness, ResourceSettings

SNAKEFILE = Path(__file__).resolve().parents[1] / "Snakefile"


def dry_run(configfile: Path, workdir: Path) -> str | None:
    try:
        with SnakemakeApi(OutputSettings(dryrun=True, quiet={Quietness.ALL})) as api:
            workflow = api.workflow(ResourceSettings(cores=1), ConfigSettings(configfiles=[configfile]),
                                    snakefile=SNAKEFILE, workdir=workdir)
            workflow.dag().execute_workflow(executor="dryrun")
    except Exception as error:  # what the dry run would print
        return f"{type(error).__name__}: {error}"
    return None


if __name__ == "__main__":
    workdir = Path(sys.argv[1])
    print(json.dumps({path: dry_run(Path(path), workdir) for path in sys.argv[2:]}))
