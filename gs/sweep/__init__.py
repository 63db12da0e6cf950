"""Sweeps over (image set, image, m, method, cut, seed) with a results store that never
loses results and never holds a number that depends on anything but its task.

Where each kind of change goes:

=======================  ====================================================
``tasks.py``             :class:`Task` (one problem, its key), :func:`grid`
``methods.py``           one :class:`MethodSpec` per method (function, generator or
                         not, cut policy, budget-scaled parameters, label, colour)
``grids.py``             the compressed-sensing grid of a profile, the cut sweep
``cuts.py``              the cut each model uses, with its provenance
``images.py``            image sets by name (data sets, synthetic, generator samples)
``store.py``             the SQLite :class:`ResultsStore`
``runner.py``            batches, measurements, :func:`run_sweep`
=======================  ====================================================

Quick start (in-process)::

    from gs import sweep
    from gs.profiles import get_profile

    profile = get_profile("smoke")
    tasks = sweep.cs_grid(profile, methods=("surgery", "lasso_dct"))
    df = sweep.run_sweep(tasks, sweep.ResultsStore("results/smoke.sqlite"))

Running a sweep on a cluster
----------------------------
:func:`run_sweep` takes any :class:`concurrent.futures.Executor`; the batches are pickled
to the workers, which load the generator and the images themselves (``gs`` must be
importable there and the weights and data present) and send back plain records. The
store stays on the machine that calls ``run_sweep``.

* Local processes: ``ProcessPoolExecutor(max_workers=4)`` (or ``ThreadPoolExecutor``).
* Dask (the ``distributed`` extra)::

      from dask.distributed import Client
      client = Client("tcp://scheduler:8786")
      run_sweep(tasks, store, executor=client.get_executor())

* Slurm: ``submitit.AutoExecutor(folder="logs/")`` is a concurrent.futures-style executor
  too (one Slurm job per batch). submitit is not a dependency of gs.

Interrupt the sweep at any time and rerun the same call: finished batches are skipped.
"""

from gs.sweep.cuts import CutChoice, chosen_cuts, cut_table, select_cuts
from gs.sweep.grids import (
    cs_grid,
    cut_sweep_grid,
    model_info,
    model_sweep_cuts,
    per_family,
    sweep_cuts,
)
from gs.sweep.images import (
    IMAGE_SOURCES,
    generator_sample_images,
    image_names,
    load_images,
    register_image_source,
    samples_image_set,
)
from gs.sweep.methods import (
    METHODS,
    MethodSpec,
    get_method,
    init_latents,
    register_method,
    series_color,
    series_label,
    series_name,
)
from gs.sweep.runner import (
    NonFiniteResult,
    SweepError,
    batches,
    kept_images,
    measurements,
    prepared_generator,
    recover_images,
    run_batch,
    run_sweep,
)
from gs.sweep.store import COLUMNS, ResultsStore, decode_png, default_store, encode_png
from gs.sweep.tasks import CS_OPERATORS, TASK_FIELDS, Task, grid, stable_seed

__all__ = [
    "COLUMNS", "CS_OPERATORS", "IMAGE_SOURCES", "METHODS", "TASK_FIELDS", "CutChoice",
    "MethodSpec", "NonFiniteResult", "ResultsStore", "SweepError", "Task", "batches",
    "chosen_cuts", "cs_grid", "cut_sweep_grid", "cut_table", "decode_png", "default_store",
    "encode_png", "generator_sample_images", "get_method", "grid", "image_names",
    "init_latents", "kept_images", "load_images", "measurements", "model_info",
    "model_sweep_cuts", "per_family", "prepared_generator", "recover_images",
    "register_image_source", "register_method", "run_batch", "run_sweep",
    "samples_image_set", "select_cuts", "series_color", "series_label", "series_name",
    "stable_seed", "sweep_cuts",
]
