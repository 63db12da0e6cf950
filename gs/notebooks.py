"""Execute the numbered notebooks headless with papermill.

``python -m gs.notebooks --profile offline`` runs every ``notebooks/NN_*.ipynb`` in order,
writing executed copies to ``outputs/notebooks/<profile>/`` (never over the tracked,
output-free notebooks) and figures to ``figures/<profile>/``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gs.paths import OUTPUT_DIR, REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOK_OUTPUT_DIR = OUTPUT_DIR / "notebooks"


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
) -> Path:
    """Run one notebook with papermill; return the path of the executed copy.

    Raises ``papermill.PapermillExecutionError`` when a cell fails.
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
        progress_bar=False,
    )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", default="offline", choices=["smoke", "offline", "paper"])
    ap.add_argument("--only", nargs="*", help="notebook name prefixes to run (e.g. 01 02)")
    args = ap.parse_args(argv)
    paths = notebook_paths()
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if not paths:
        print("no notebooks to run", file=sys.stderr)
        return 1
    total = time.perf_counter()
    for path in paths:
        t0 = time.perf_counter()
        print(f"[{args.profile}] {path.name} ...", flush=True)
        out = run_notebook(path, args.profile)
        print(f"[{args.profile}] {path.name} done in {time.perf_counter() - t0:.0f} s -> "
              f"{out.relative_to(REPO_ROOT)}", flush=True)
    print(f"all {len(paths)} notebooks done in {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
