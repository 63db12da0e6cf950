"""Every numbered notebook runs top to bottom with papermill in the smoke profile.

Executed copies go to outputs/notebooks/smoke/ (where `make test` then runs
``pytest --nbval-lax`` on them); figures go to a temporary folder, and every figure a
notebook writes must come as PDF + PNG + CSV. The notebooks share one results store,
``outputs/notebooks/smoke/smoke.sqlite``, emptied at the start of the session, as they
share one store under ``make reproduce`` (so the cut chosen by 02 is used by 03 ...);
nbval's re-execution then finds the recoveries already done.
"""

import re
from pathlib import Path

import nbformat
import pytest

from gs.notebooks import (
    NOTEBOOK_OUTPUT_DIR,
    check_parameters,
    coerce,
    main,
    notebook_parameters,
    notebook_paths,
    run_notebook,
)

NOTEBOOKS = notebook_paths()
SMOKE_DIR = NOTEBOOK_OUTPUT_DIR / "smoke"
#: Cheaper than the smoke defaults where the BEGAN, the slowest model, would only repeat
#: a code path: the rehearsal (tests/test_paper.py) runs 08's studies and 09's auto cut
#: with the 128-px BEGAN.
SMOKE_PARAMS = {"08_supplement": {"study_family": "dcgan"},
                "09_auto_cut": {"families": ["dcgan", "vae"]}}


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
    return set(notebook_parameters(path))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_parameter_is_typed_and_checked(path: Path):
    params = notebook_parameters(path)  # raises on a parameter without an annotation
    for name, (spec, default) in params.items():
        assert coerce(name, default, spec) == default, name
    nb = nbformat.read(path, as_version=4)
    i = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    assert f'check_parameters(globals(), "{path.stem}")' in nb.cells[i + 1].source


def test_a_misspelt_parameter_fails_and_lists_the_valid_ones():
    ns = {name: default for name, (_, default) in notebook_parameters(NOTEBOOKS[2]).items()}
    check_parameters(dict(ns), NOTEBOOKS[2].stem)  # the defaults pass
    with pytest.raises(ValueError, match=r"has no parameter\(s\) \['familes'\].*'families'"):
        check_parameters({**ns, "familes": ["dcgan"]}, NOTEBOOKS[2].stem)
    with pytest.raises(ValueError, match=r"parameter steps must be int \| None, got 2.5"):
        check_parameters({**ns, "steps": 2.5}, NOTEBOOKS[2].stem)


def test_a_list_parameter_given_as_a_string_is_split():
    ns = {name: default for name, (_, default) in notebook_parameters(NOTEBOOKS[2]).items()}
    ns["families"] = "dcgan"  # papermill -p families dcgan gives a string
    check_parameters(ns, NOTEBOOKS[2].stem)
    assert ns["families"] == ["dcgan"]
    assert coerce("ratios", "0.05,0.1", "Optional[list[float]]") == [0.05, 0.1]


def test_runner_rejects_unknown_overrides(capsys):
    with pytest.raises(SystemExit):
        main(["--profile", "smoke", "--only", "02", "-p", "familes=dcgan"])
    assert "no notebook to run has parameter(s) ['familes']" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["-p", "steps=ten"], "parameter steps must be int | None, got 'ten'"),
    (["-p", "steps"], "-p takes name=value, got 'steps'"),
    (["-p", "families="], "parameter families: an empty list; leave it out for every family"),
    (["-p", "families=dcgan,gan"], "parameter families: profile 'smoke' has no ['gan']"),
    (["-p", "image_sets=celeba"], "parameter image_sets: profile 'smoke' has no ['celeba']"),
    (["-p", "ratios=0.1,1.5"], "parameter ratios: 1.5 is not in (0, 1]"),
    (["-p", "n_images=0"], "parameter n_images: 0 is not positive"),
    (["-p", "device=gpu9"], "parameter device: 'gpu9' is not a torch device"),
    (["-p", "profile=paper"], "-p profile: this command sets it (use --profile)"),
    (["-p", "out_dir=/tmp/x"], "-p out_dir: this command sets it (use --out-dir)"),
    (["--out-dir", " "], "--out-dir: an empty path"),
    (["-p", "style=talk"], "-p style: this command sets it (use --style)"),
    (["-p", "steps10"], "-p takes name=value, got 'steps10'"),
    (["-p", "ratios="], "parameter ratios: an empty list; leave it out for the profile's own"),
])
def test_runner_checks_every_override_before_any_notebook_runs(argv, message, capsys):
    """A bad -p is a one-line usage error (exit 2) before the first notebook starts."""
    with pytest.raises(SystemExit) as exit_:
        main(["--profile", "smoke", "--only", "04", "06"] + argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_a_notebook_checks_its_parameter_values_too():
    """Under plain papermill (no runner) the notebook's own check catches a value no
    notebook can use, naming the parameter."""
    ns = {name: default for name, (_, default) in notebook_parameters(NOTEBOOKS[2]).items()}
    for name, value, message in (("families", [], "an empty list"),
                                 ("families", ["gan"], "has no ['gan']"),
                                 ("steps", 0, "0 is not positive"),
                                 ("ratios", [0.0], "0.0 is not in (0, 1]"),
                                 ("style", "fancy", "'fancy' is not one of ['paper', 'talk']")):
        with pytest.raises(ValueError, match=rf"parameter {name}: .*{re.escape(message)}"):
            check_parameters({**ns, name: value}, NOTEBOOKS[2].stem)
    check_parameters({**ns, "families": ["vae"], "ratios": [1.0], "device": "auto"},
                     NOTEBOOKS[2].stem)
    nine = next(p for p in NOTEBOOKS if p.stem.startswith("09"))
    ns9 = {name: default for name, (_, default) in notebook_parameters(nine).items()}
    with pytest.raises(ValueError, match=r"parameter holdout: 1.0 is not in \(0, 1\)"):
        check_parameters({**ns9, "holdout": 1.0}, nine.stem)


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
    params = {"out_dir": str(tmp_path), **SMOKE_PARAMS.get(path.stem, {})}
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
