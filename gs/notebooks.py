"""Execute the numbered notebooks headless with papermill, and check their parameters.

``python -m gs.notebooks --profile offline`` runs every ``notebooks/NN_*.ipynb`` in order,
writing executed copies to ``outputs/notebooks/<profile>/`` (never over the tracked,
output-free notebooks) and figures to ``figures/<profile>/``. Overrides::

    python -m gs.notebooks --profile offline --only 03 -p families=dcgan,began -p steps=10 \
        --style talk --out-dir /tmp/talk

Every notebook's parameters cell annotates each parameter's type, as a string papermill
can read (``families: "Optional[list[str]]" = None``); its next cell calls
:func:`check_parameters`,
so a misspelt or mistyped parameter fails at once with a message that lists the valid
ones, also under plain papermill (``papermill ... -p familes dcgan``). A list parameter
given as a string is split at commas (``-p families dcgan,vae``).

>>> coerce("families", "dcgan,vae", "Optional[list[str]]")
['dcgan', 'vae']
>>> coerce("ratios", [0.05, 1], "list[float] | None")
[0.05, 1.0]
>>> coerce("ratios", 0.1, "Optional[list[float]]"), coerce("ratio", ".5", "Optional[float]")
([0.1], 0.5)
>>> coerce("steps", "ten", "int | None")
Traceback (most recent call last):
...
ValueError: parameter steps must be int | None, got 'ten'
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gs.paths import OUTPUT_DIR, REPO_ROOT
from gs.profiles import PROFILES

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOK_OUTPUT_DIR = OUTPUT_DIR / "notebooks"


#: Names IPython puts in a kernel's namespace (besides those starting with "_").
_KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def _scalar(value: Any, kind: str, name: str, spec: str) -> Any:
    bad = ValueError(f"parameter {name} must be {spec}, got {value!r}")
    if kind == "str":
        if not isinstance(value, str):
            raise bad
        return value
    if kind == "bool":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise bad
        return value
    if isinstance(value, str):
        try:
            value = float(value.strip())  # also ".5", "1.", "1e-3"
        except ValueError:
            raise bad from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad
    if kind == "int":
        if value != int(value):
            raise bad
        return int(value)
    return float(value)


def coerce(name: str, value: Any, spec: str) -> Any:
    """``value`` checked against the annotation ``spec`` (``str``, ``int``, ``float``,
    ``bool``, ``list[...]``, each optionally ``| None``; ``list`` alone: any list); strings
    are parsed (numbers as JSON, lists split at commas). Raises a ValueError naming the
    parameter and the expected type."""
    if spec.startswith("Optional[") and spec.endswith("]"):
        spec = f"{spec[9:-1]} | None"
    kinds = [k.strip() for k in spec.split("|")]
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
        if "None" in kinds:
            return None
        raise ValueError(f"parameter {name} must be {spec}, got None")
    kind = next(k for k in kinds if k != "None")
    if kind.startswith("list"):
        inner = kind[5:-1] if kind.startswith("list[") else ""
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
                value = parsed if isinstance(parsed, list) else value.split(",")
            except json.JSONDecodeError:
                value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            value = [value]  # papermill -p ratios 0.1 passes a number
        if inner in ("str", "int", "float", "bool"):
            return [_scalar(v, inner, name, spec) for v in value]
        return value
    return _scalar(value, kind, name, spec)


def notebook_parameters(path: Path) -> dict[str, tuple[str, Any]]:
    """``{name: (type annotation, default)}`` from a notebook's parameters cell."""
    nb = json.loads(Path(path).read_text())
    cell = next((c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])),
                None)
    if cell is None:
        raise ValueError(f"{path} has no cell tagged 'parameters'")
    out = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            ann = node.annotation
            spec = ann.value if isinstance(ann, ast.Constant) else ast.unparse(ann)
            out[node.target.id] = (spec, ast.literal_eval(node.value))
        elif isinstance(node, ast.Assign):
            raise ValueError(f"{path}: parameter {ast.unparse(node.targets[0])} has no type "
                             "annotation")
    return out


def _find(notebook: str) -> Path:
    matches = [p for p in notebook_paths() if p.stem == notebook or p.name.startswith(notebook)]
    if len(matches) != 1:
        raise ValueError(f"no single notebook named {notebook!r} in {NOTEBOOK_DIR}")
    return matches[0]


def check_parameters(namespace: dict, notebook: str) -> None:
    """Check and convert a notebook's parameters in its namespace (``globals()``), after
    papermill injected the overrides: an unknown name is an error listing the valid ones;
    each value must match the parameter's annotation (strings are converted)."""
    params = notebook_parameters(_find(notebook))
    unknown = sorted(k for k, v in namespace.items()
                     if not k.startswith("_") and k not in params and k not in _KERNEL_NAMES
                     and not callable(v) and not isinstance(v, type(sys)))
    if unknown:
        raise ValueError(f"{notebook} has no parameter(s) {unknown}; its parameters are "
                         f"{sorted(params)}")
    for name, (spec, _default) in params.items():
        namespace[name] = coerce(name, namespace[name], spec)
    for name in params:
        check_value(name, namespace[name], namespace.get("profile", "offline"))


_POSITIVE = {"steps", "restarts", "n_images", "n_samples", "n_show", "noop_steps",
             "restart_counts", "adam_lr", "noop_lr", "baseline_budget"}
_FRACTIONS = {"ratios", "ratio", "study_ratio"}


def check_value(name: str, value: Any, profile: str) -> None:
    """A ValueError (one line) for a typed parameter value no notebook can use: an empty
    list or unknown name of ``families`` / ``image_sets`` / ``study_family`` for
    ``profile``, a count or learning rate that is not positive, a ratio outside (0, 1], a
    negative cut, an unknown ``style`` or a ``device`` torch cannot use. ``None`` (the
    profile's own value) always passes.

    >>> check_value("families", [], "offline")
    Traceback (most recent call last):
    ...
    ValueError: parameter families: an empty list; leave it out for every family
    >>> check_value("ratios", [0.1, 1.5], "offline")
    Traceback (most recent call last):
    ...
    ValueError: parameter ratios: 1.5 is not in (0, 1]
    """
    if value is None:
        return
    items = value if isinstance(value, list) else [value]
    if name in ("families", "image_sets", "study_family", "cuts", "ratios",
                "restart_counts") and not items:
        what = {"families": "every family", "image_sets": "every image set"}.get(
            name, "the profile's own")
        raise ValueError(f"parameter {name}: an empty list; leave it out for {what}")
    if name in ("families", "image_sets", "study_family"):
        from gs.profiles import get_profile

        cfg = get_profile(profile)
        known = list(cfg.models) if name != "image_sets" else [cfg.in_dist, cfg.ood]
        if bad := [v for v in items if v not in known]:
            raise ValueError(f"parameter {name}: profile {profile!r} has no {bad}; it has "
                             f"{known}")
    elif name in _POSITIVE:
        if bad := [v for v in items if not v > 0]:
            raise ValueError(f"parameter {name}: {bad[0]} is not positive")
    elif name in _FRACTIONS:
        if bad := [v for v in items if not 0 < v <= 1]:
            raise ValueError(f"parameter {name}: {bad[0]} is not in (0, 1]")
    elif name == "holdout":  # a share of the measurements held out: some kept, some not
        if not 0 < value < 1:
            raise ValueError(f"parameter holdout: {value} is not in (0, 1)")
    elif name == "cuts":
        if bad := [v for v in items if v < 0]:
            raise ValueError(f"parameter cuts: {bad[0]} is negative")
    elif name == "style":
        from gs.plotting import STYLES

        if value not in STYLES:
            raise ValueError(f"parameter style: {value!r} is not one of {sorted(STYLES)}")
    elif name == "device" and value != "auto":  # auto: CUDA where there is one
        import torch

        try:
            device = torch.device(value)
        except (RuntimeError, ValueError):
            raise ValueError(f"parameter device: {value!r} is not a torch device (cpu, "
                             f"cuda, cuda:1, ... or auto)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"parameter device: {value!r}, but torch sees no CUDA device here")


def parse_overrides(pairs: list[str], path: Path, profile: str = "offline") -> dict[str, Any]:
    """``["name=value", ...]`` -> typed, checked values (:func:`check_value`) for the
    notebook at ``path`` (names it does not have are left out, so one ``-p`` can serve
    several notebooks; a name no notebook has is caught by :func:`check_overrides`)."""
    params = notebook_parameters(path)
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"-p takes name=value, got {pair!r}")
        if name in params:
            out[name] = coerce(name, value, params[name][0])
            check_value(name, out[name], profile)
    return out


#: Parameters a command sets itself, with the option that sets them.
COMMAND_SET = {"profile": "use --profile", "out_dir": "use --out-dir", "style": "use --style"}


def check_overrides(pairs: list[str], paths: list[Path], profile: str,
                    command_set: dict[str, str] = COMMAND_SET,
                    command: Sequence[str] = ()) -> dict[Path, dict[str, Any]]:
    """Each notebook's typed overrides from ``-p name=value`` ``pairs``, checked before
    any notebook runs: a ValueError (one line) for a pair without ``=``, a name none of
    ``paths`` has or one the command sets itself (``command_set``: name -> option), or a
    value of the wrong type or range. ``command``: the ``name=value`` pairs the command
    sets itself (its options), typed and given to the notebooks that have them."""
    if bad := [pair for pair in pairs if "=" not in pair]:
        raise ValueError(f"-p takes name=value, got {bad[0]!r}")
    known = set().union(*(notebook_parameters(p) for p in paths)) - set(command_set)
    names = [pair.partition("=")[0] for pair in pairs]
    if own := [n for n in names if n in command_set]:
        raise ValueError(f"-p {own[0]}: this command sets it ({command_set[own[0]]})")
    if unknown := sorted(set(names) - known):
        raise ValueError(f"no notebook to run has parameter(s) {unknown}; they have "
                         f"{sorted(known)}")
    return {p: parse_overrides([*pairs, *command], p, profile) for p in paths}


def notebook_paths(only: Sequence[str] | None = None, directory: Path = NOTEBOOK_DIR
                   ) -> list[Path]:
    """The numbered notebooks, in order (``only``: those whose names start with one of
    these prefixes)."""
    paths = sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))
    only = [only] if isinstance(only, str) else only
    return [p for p in paths if not only or any(p.name.startswith(o) for o in only)]


def run_notebook(
    path: Path,
    profile: str,
    *,
    parameters: dict | None = None,
    output_dir: Path | None = None,
    kernel: str = "python3",
    progress: bool = False,
) -> Path:
    """Run one notebook with papermill; return the path of the executed copy.

    ``progress`` shows a bar over the notebook's cells. Raises
    ``papermill.PapermillExecutionError`` when a cell fails.
    """
    import papermill as pm

    out_dir = Path(output_dir or NOTEBOOK_OUTPUT_DIR / profile)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / Path(path).name
    params = {"profile": profile, **(parameters or {})}
    pm.execute_notebook(
        str(path),
        str(out),
        parameters=params,
        kernel_name=kernel,
        cwd=str(Path(path).parent),
        progress_bar=progress,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    from gs.plotting import default_figures_dir

    ap = argparse.ArgumentParser(prog="python -m gs.notebooks",
                                 description=__doc__.splitlines()[0].replace("``", ""))
    ap.add_argument("--profile", default="offline", choices=sorted(PROFILES))
    ap.add_argument("--only", nargs="+", metavar="PREFIX",
                    help="notebook name prefixes to run (e.g. 01 02; default all)")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                    help="override a parameter of every notebook that has it (lists: "
                         "comma-separated)")
    ap.add_argument("--style", choices=["paper", "talk"], help="figure style")
    ap.add_argument("--out-dir", help="where figures and the exported results go (default "
                                      "figures/PROFILE in paper style, "
                                      "outputs/figures/PROFILE-STYLE otherwise)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    if args.out_dir is not None:
        from gs.figures.cli import output_folder

        try:
            output_folder(args.out_dir, args.profile, "paper", option="--out-dir")
        except ValueError as exc:
            ap.error(str(exc))
    paths = notebook_paths(args.only)
    if not paths:
        ap.error(f"--only {' '.join(args.only)}: no notebook in {NOTEBOOK_DIR} starts so")
    out_dir = args.out_dir
    if out_dir is None and args.style not in (None, "paper"):
        out_dir = str(default_figures_dir(args.profile, args.style))
    pairs = list(args.param)
    try:
        overrides = check_overrides(pairs, paths, args.profile,
                                    command=[f"style={args.style}"] * bool(args.style))
    except ValueError as exc:
        ap.error(str(exc))
    if out_dir is not None:  # as given, not parsed (a folder may be named "none")
        for p in paths:
            overrides[p]["out_dir"] = out_dir
    total = time.perf_counter()
    for path in paths:
        t0 = time.perf_counter()
        print(f"[{args.profile}] {path.name} {overrides[path] or ''}...", flush=True)
        out = run_notebook(path, args.profile, parameters=overrides[path],
                           progress=not args.quiet)
        print(f"[{args.profile}] {path.name} done in {time.perf_counter() - t0:.0f} s -> "
              f"{out}", flush=True)
    print(f"all {len(paths)} notebooks done in {time.perf_counter() - total:.0f} s")
    # ship the per-task results beside the figures (python -m gs.figures redraws from them)
    from gs import results
    from gs.sweep import ResultsStore

    store = next((ResultsStore(p.partition("=")[2]) for p in pairs
                  if p.startswith("store_path=")), None)
    for exported in results.export(args.profile, store, out_dir):
        print(f"[{args.profile}] exported {exported}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
