"""The paper profile end to end: ``python -m gs.paper`` (``make paper``) and its rehearsal.

``python -m gs.paper`` downloads CelebA and COCO 2017 test (or takes ``--data DIR``),
trains the DCGAN (64 px), BEGAN and VAE (128 px) on CelebA at the paper's sizes, and runs
every notebook in the paper profile; each stage resumes where it stopped
(:mod:`gs.paper.stages`). ``--checkpoint FAMILY=PATH`` uses a checkpoint a user already
has instead of training (:mod:`gs.paper.checkpoints` lists the layouts accepted).

``python -m gs.paper --rehearse`` runs the same stages on small paper-shaped fake data
(:mod:`gs.paper.fakedata`) served by a local HTTP server (:mod:`gs.paper.server`), with
tiny sizes given as overrides of the paper profile: the same code path in minutes on a
CPU. ``make test`` runs it (``tests/test_paper.py``).

Modules: :mod:`~gs.paper.stages` (the stages, resume, time-left estimates),
:mod:`~gs.paper.cli` (the command, the rehearsal's sizes), :mod:`~gs.paper.fakedata`,
:mod:`~gs.paper.server`, :mod:`~gs.paper.checkpoints`.
"""

from gs.paper.checkpoints import PAPER_ARCHITECTURES, import_checkpoint
from gs.paper.cli import main, rehearsal_params, rehearsal_profile, rehearse
from gs.paper.stages import STAGES, Plan, run

__all__ = ["PAPER_ARCHITECTURES", "import_checkpoint", "main", "rehearsal_params",
           "rehearsal_profile", "rehearse",
           "STAGES", "Plan", "run"]
