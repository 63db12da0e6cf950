"""Every numbered notebook runs top to bottom with papermill in the smoke profile.

Executed copies go to outputs/notebooks/smoke/ (where `make test` then runs
``pytest --nbval-lax`` on them); figures go to a temporary folder, and every figure a
notebook writes must come as PDF + PNG + CSV. The notebooks share one results store,
``outputs/notebooks/smoke/smoke.sqlite``, emptied at the start of the session, as they
share one store under ``make reproduce`` (so the cut chosen by 02 is used by 03 ...);
nbval's re-execution then finds the recoveries already done.
"""

from pathlib import Path

import nbformat
import pytest

from gs.notebooks import NOTEBOOK_OUTPUT_DIR, notebook_paths, run_notebook

NOTEBOOKS = notebook_paths()
SMOKE_DIR = NOTEBOOK_OUTPUT_DIR / "smoke"


@pytest.fixture(scope="session")
def smoke_store() -> Path:
    SMOKE_DIR.mkdir(parents=True, exist_ok=True)
    store = SMOKE_DIR / "smoke.sqlite"
    for p in SMOKE_DIR.glob("smoke.sqlite*"):
        p.unlink()
    return store


def test_there_are_notebooks():
    assert NOTEBOOKS, "no numbered notebooks found in notebooks/"


def _parameter_names(path: Path) -> set[str]:
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", []))
    return {line.split("=")[0].strip() for line in cell.source.splitlines()
            if "=" in line and not line.lstrip().startswith("#")}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_tracked_notebook_has_parameters_cell_and_no_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert "profile" in tagged[0].source
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, "clear outputs before commit"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_profile(path: Path, tmp_path: Path, smoke_store: Path):
    params = {"out_dir": str(tmp_path)}
    if "store_path" in _parameter_names(path):
        params["store_path"] = str(smoke_store)
    out = run_notebook(path, "smoke", parameters=params, output_dir=SMOKE_DIR)
    nb = nbformat.read(out, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    stems = {p.stem for p in tmp_path.iterdir()}
    assert stems, "the notebook wrote no figure"
    for stem in stems:
        for ext in (".pdf", ".png", ".csv"):
            assert (tmp_path / f"{stem}{ext}").is_file(), f"{stem}{ext} missing"
