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
==========================================  =============================================

A notebook passes :func:`notebook_source` (missing tasks are run and stored); the figure
command (``python -m gs.figures``, :mod:`gs.figures.cli`) passes a source that reads only
the shipped per-task table (:mod:`gs.results`) and never recomputes.
"""

from gs.figures.common import (
    Drawn,
    MissingResults,
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
from gs.figures.images import qualitative, samples, trained_samples
from gs.figures.studies import (
    SupplementSettings,
    effort_label,
    supplement,
    supplement_settings,
    zero_error,
    zero_error_config,
)

__all__ = [
    "Drawn", "MissingResults", "Source", "SupplementSettings", "baseline_config", "baselines",
    "budget_note", "compressed_sensing", "cs_tasks", "cut_selection", "effort_label",
    "images_note", "lookup", "notebook_source", "optimised_parameters", "percent",
    "qualitative", "reinit", "samples", "supplement", "supplement_settings", "table_source",
    "trained_samples", "zero_error", "zero_error_config",
]
