# gs: two commands for a fresh machine (see README).
#   make reproduce   set up .venv and run every notebook (PROFILE=offline by default)
#   make test        set up .venv and run all tests (unit + notebooks in the smoke profile)

PROFILE ?= offline
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gs-installed
SMOKE_OUT := outputs/notebooks/smoke

.PHONY: venv reproduce test unit notebooks-test lint bench train paper docs clean-outputs

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	# The DigiFace DCGAN weights; its declared dependencies would pull in torchvision.
	$(PY) -m pip install -q --no-deps gan_face_generate==1.1.1
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (gs)" >/dev/null
	touch $(STAMP)

reproduce: venv
	$(PY) -m gs.notebooks --profile $(PROFILE)

# Two workers of one thread each, a test file per worker at a time (pytest-xdist
# --dist loadfile): the smoke notebooks of tests/test_notebooks.py run on one worker in
# order (they share a store), the paper rehearsal and the other files beside them. Then
# nbval re-executes the executed smoke notebooks and compares their outputs.
test: venv
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2 --dist loadfile
	OMP_NUM_THREADS=1 $(PY) -m pytest -q --nbval --nbval-current-env -p no:randomly $(SMOKE_OUT)

unit: venv
	$(PY) -m pytest -q -m "not notebook"

lint: venv
	$(PY) -m ruff check gs tests bench scripts

bench: venv
	$(PY) bench/recovery.py

train: venv
	$(PY) -m gs.train all --profile $(PROFILE)

# The paper profile end to end: download, training, every notebook (docs/paper_profile.md).
# make paper PAPER_ARGS=--rehearse runs the same stages on fake data in minutes.
paper: venv
	$(PY) -m gs.paper $(PAPER_ARGS)

# the pages of docs/ (mkdocs.yml) as a static site in outputs/site; MkDocs is installed here
# only, so the test path does not depend on it
docs: venv
	$(PY) -m pip install -q mkdocs==1.6.1
	$(PY) -m mkdocs build --strict

clean-outputs:
	rm -rf outputs figures/smoke
