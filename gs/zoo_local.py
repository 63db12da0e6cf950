"""A local, per-user zoo file for checkpoints trained outside the repository.

``python -m gs.train ... --profile paper`` registers each trained generator here
(``dcgan64-celeba``, ``began128-celeba``, ``vae128-celeba``). The file is JSON,
``{name: {"path", "model", "sha256", "source", "licence", "description", "training"}}``,
at ``$GS_LOCAL_ZOO`` or ``~/.cache/gs/zoo.json``. :func:`register_from_file` adds its
entries to :data:`gs.zoo.ENTRIES` (sha256 verified on every load, like shipped entries).

>>> import tempfile, os
>>> p = os.path.join(tempfile.mkdtemp(), "zoo.json")
>>> register_from_file(p)   # a missing file registers nothing
[]
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gs import zoo


def local_zoo_path() -> Path:
    """``$GS_LOCAL_ZOO`` if set, else ``~/.cache/gs/zoo.json``."""
    return Path(os.environ.get("GS_LOCAL_ZOO", Path.home() / ".cache" / "gs" / "zoo.json"))


def _read(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise zoo.ZooError(f"local zoo file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise zoo.ZooError(f"local zoo file {path} must hold a JSON object")
    return data


def add_local_entry(name: str, path: str | Path, *, training: str = "", description: str = "",
                    source: str = "trained by gs.train", licence: str = "user checkpoint",
                    file: str | Path | None = None) -> Path:
    """Record the gs checkpoint at ``path`` as zoo entry ``name`` (sha256 of the file now).

    Returns the zoo file written; also registers the entry in this process.
    """
    path = Path(path).expanduser().resolve()
    ckpt = zoo._torch_load(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise zoo.ZooError(f"{path} is not a gs checkpoint (no 'model' key)")
    reg = Path(file) if file is not None else local_zoo_path()
    data = _read(reg)
    data[name] = {"path": str(path), "model": ckpt["model"], "sha256": zoo.sha256sum(path),
                  "source": source, "licence": licence, "description": description,
                  "training": training}
    reg.parent.mkdir(parents=True, exist_ok=True)
    tmp = reg.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, reg)
    register_from_file(reg)
    return reg


def register_from_file(file: str | Path | None = None) -> list[str]:
    """Register every entry of the local zoo file in :data:`gs.zoo.ENTRIES`; returns names."""
    reg = Path(file) if file is not None else local_zoo_path()
    names = []
    for name, e in _read(reg).items():
        zoo.register(zoo.ZooEntry(
            name=name, model=e["model"], model_kwargs={}, locate=zoo._path(e["path"]),
            sha256=e.get("sha256"), source=e.get("source", f"local file {e['path']}"),
            licence=e.get("licence", "user checkpoint"), description=e.get("description", ""),
            training=e.get("training", ""),
        ))
        names.append(name)
    return names
