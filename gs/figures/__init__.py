"""Every figure of the notebooks as a function of the results, in paper or talk style.

One function per notebook's figures; each builds the tasks its figure shows, asks a
:class:`Source` for their records and draws them with :mod:`gs.plotting`:

==========================================  =============================================
``images.samples``                          01: generator samples at every cut
``curves.cut_selection``                    02: PSNR vs cut on validation images
``curves.compressed_sensing``               03: PSNR vs m/n, surgery / none / Lasso-DCT
``curves.baselines``                        04: against IAGAN, mGANprior, Deep Decoder;
                                            numbers optimised per method
``images.qualitative``                      05: recovered images with their PSNR
``curves.reinit``                           06: trained vs re-initialised kept blocks
``studies.zero_error``                      07: samples of the uncut generator
``studies.supplement``                      08: supplement studies (a)-(e)
``images.trained_samples``                  samples of the generators trained here
``beyond.auto_cut``                         09: the cut chosen from the measurements
``beyond.paper_claims``                     10: the paper's claims, checked
==========================================  =============================================

A notebook passes :func:`notebook_source` (missing tasks are run and stored); the figure
command (``python -m gs.figures``, :mod:`gs.figures.cli`) passes a source that reads only
the shipped per-task table and samples (:mod:`gs.results`) and never recomputes nor runs
a generator; a figure whose notebook has not run in the profile raises :class:`NotRun`.
"""

from gs.figures.beyond import auto_cut, auto_cut_candidates, auto_cut_tasks, paper_claims
from gs.figures.common import (
    Drawn,
    MissingResults,
    NotRun,
    Source,
    budget_note,
    images_note,
    lookup,
    notebook_source,
    percent,
    table_source,
)
from gs.figures.curves import (
    baseline_config,
    baselines,
    compressed_sensing,
    cs_tasks,
    cut_selection,
    optimised_parameters,
    reinit,
)
from gs.figures.images import (
    qualitative,
    sample_sheet,
    samples,
    shipped_sheets,
    trained_samples,
)
from gs.figures.studies import (
    SupplementSettings,
    effort_label,
    supplement,
    supplement_settings,
    zero_error,
    zero_error_config,
)

__all__ = [
    "Drawn", "MissingResults", "NotRun", "Source", "SupplementSettings", "auto_cut",
    "auto_cut_candidates", "auto_cut_tasks", "baseline_config", "baselines", "budget_note",
    "compressed_sensing", "cs_tasks", "cut_selection", "effort_label", "images_note",
    "lookup", "notebook_source", "optimised_parameters", "paper_claims", "percent",
    "qualitative", "reinit", "sample_sheet", "samples", "shipped_sheets", "supplement",
    "supplement_settings", "table_source", "trained_samples", "zero_error",
    "zero_error_config",
]
