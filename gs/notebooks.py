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


def parse_overrides(pairs: list[str], path: Path) -> dict[str, Any]:
    """``["name=value", ...]`` -> typed values for the notebook at ``path`` (names it does
    not have are left out, so one ``-p`` can serve several notebooks; a name no notebook
    has is caught by :func:`main`)."""
    params = notebook_parameters(path)
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"-p takes name=value, got {pair!r}")
        if name in params:
            out[name] = coerce(name, value, params[name][0])
    return out


def notebook_paths(directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks, in order."""
    return sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))


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
    ap = argparse.ArgumentParser(prog="python -m gs.notebooks",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="offline", choices=sorted(PROFILES))
    ap.add_argument("--only", nargs="*", help="notebook name prefixes to run (e.g. 01 02)")
    ap.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                    help="override a parameter of every notebook that has it (lists: "
                         "comma-separated)")
    ap.add_argument("--style", choices=["paper", "talk"], help="figure style")
    ap.add_argument("--out-dir", help="where figures go (default figures/PROFILE)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    paths = notebook_paths()
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if not paths:
        print("no notebooks to run", file=sys.stderr)
        return 1
    pairs = list(args.param)
    pairs += [f"style={args.style}"] if args.style else []
    pairs += [f"out_dir={args.out_dir}"] if args.out_dir else []
    known = set().union(*(notebook_parameters(p) for p in paths))
    unknown = sorted({pair.partition("=")[0] for pair in pairs} - known)
    if unknown:
        ap.error(f"no notebook to run has parameter(s) {unknown}; they have {sorted(known)}")
    overrides = {p: parse_overrides(pairs, p) for p in paths}
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
    for exported in results.export(args.profile, store, args.out_dir):
        print(f"[{args.profile}] exported {exported}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
