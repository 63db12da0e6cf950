"""Named generator checkpoints: where each comes from, its sha256, how to load it.

>>> from gs import zoo
>>> "dcgan64-digiface" in zoo.ENTRIES
True
>>> zoo.weights_id("dcgan64-digiface")      # first 16 hex digits of the sha256
'0c3b90b138cfc4e8'
>>> g = zoo.load("dcgan64-digiface")          # doctest: +SKIP
>>> g.name, g.image_size                      # doctest: +SKIP
('dcgan', 64)

Every load verifies the file's sha256 (when the entry records one) before
``torch.load(..., weights_only=True)``, loads the state dict strictly and returns the
generator in eval mode. Checkpoints that this project writes (training,
:func:`save_checkpoint`) are dicts
``{"model": name, "model_kwargs": {...}, "state_dict": {...}, "meta": {...}}``.
Checkpoints trained elsewhere are registered by path with :func:`register` (or loaded
directly with :func:`load_checkpoint`). :func:`weights_id` names the weights an entry
stands for (its recorded sha256, or the current file's), so stored results can be keyed
by it.

**The per-user zoo file.** ``python -m gs.train ... --profile paper`` registers each
trained generator (``dcgan64-celeba``, ``began128-celeba``, ``vae128-celeba``) with
:func:`add_local_entry` in a JSON file at ``$GS_LOCAL_ZOO`` or ``~/.cache/gs/zoo.json``
(:func:`local_zoo_path`)::

    {"dcgan64-celeba": {"path": "/abs/dcgan.pt", "model": "dcgan", "sha256": "<64 hex>",
                        "source": "...", "licence": "...", "description": "...",
                        "training": "...", "replaces": false}}

``path`` (absolute, or relative to the file's folder) and ``model`` (a name
:func:`gs.models.build` accepts) are required; the other fields are optional strings,
except ``replaces`` (a boolean). The file is read the first time the zoo is consulted
(:data:`ENTRIES`, :func:`entries`, :func:`get`, :func:`load`, ...), never at import, and
every entry is validated then:

* a malformed file or entry never breaks ``import gs.zoo`` nor the built-in entries: it
  is reported by a :class:`ZooWarning` naming the file, the entry, what is wrong and how
  to fix it, and using that entry (:func:`get`, :func:`load`, :func:`weights_id`) raises
  :class:`ZooError` with the same message;
* an entry named like a built-in (shipped) entry replaces it only with
  ``"replaces": true``, and the replacement is announced by a :class:`ZooWarning` naming
  the file, the entry and the checkpoint. Without it the entry is refused (a warning
  here; a :class:`ZooError` from :func:`register_from_file` and :func:`add_local_entry`)
  and the built-in entry stays.

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "zoo.json")
>>> register_from_file(p)   # a missing file registers nothing
[]

Where each kind of change goes:

==================  ============================================================
``registry.py``     :class:`ZooEntry`, :class:`ZooError`, :data:`ENTRIES` and its lazy
                    merge of the per-user zoo file, :func:`register`, :func:`get`,
                    :func:`available`, :func:`entries`
``checkpoints.py``  sha256 checks, :func:`load`, :func:`save_checkpoint`,
                    :func:`load_checkpoint`, :func:`weights_id`
``builtin.py``      the built-in entries (the DigiFace DCGAN, the checkpoints shipped
                    in ``zoo/``), :func:`shipped_entries`, :func:`manifest_rows`
``user_file.py``    the per-user zoo file: :func:`local_zoo_path`, its validation,
                    :func:`register_from_file`, :func:`add_local_entry`
==================  ============================================================

Each module imports only those above it in this table.
"""

from gs.paths import ZOO_DIR
from gs.zoo import builtin, checkpoints, registry
from gs.zoo.builtin import (
    DIGIFACE_PACKAGE,
    DIGIFACE_SHA256,
    DIGIFACE_VERSION,
    manifest_rows,
    shipped_entries,
)
from gs.zoo.checkpoints import (
    load,
    load_checkpoint,
    save_checkpoint,
    sha256sum,
    verify_sha256,
    weights_id,
)
from gs.zoo.registry import (
    ENTRIES,
    ZooEntry,
    ZooError,
    ZooWarning,
    available,
    entries,
    get,
    register,
)
from gs.zoo.user_file import add_local_entry, local_zoo_path, register_from_file

# internals that the tests reach as gs.zoo.<name>
_BUILTIN = builtin._BUILTIN
_torch_load = checkpoints._torch_load
_LOCAL, _Entries, _LocalZoo = registry._LOCAL, registry._Entries, registry._LocalZoo

__all__ = [
    "DIGIFACE_PACKAGE", "DIGIFACE_SHA256", "DIGIFACE_VERSION", "ENTRIES", "ZOO_DIR",
    "ZooEntry", "ZooError", "ZooWarning", "add_local_entry", "available", "entries", "get",
    "load", "load_checkpoint", "local_zoo_path", "manifest_rows", "register",
    "register_from_file", "save_checkpoint", "sha256sum", "shipped_entries", "verify_sha256",
    "weights_id",
]
