"""The training loop and its run directory.

:func:`train` runs one configured training and writes, to its run directory,
``state.pt`` (everything needed to resume bit-for-bit), ``generator.pt`` (a gs
checkpoint), ``samples_XXXXXX.png`` grids (:func:`save_grid`), ``log.jsonl`` and
``config.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gs.data.streams import DigiFaceStream, ImageFolderStream, make_stream
from gs.profiles import resolve_device
from gs.train.config import TrainConfig
from gs.train.trainers import TRAINERS, BEGANDistillTrainer, Trainer


def _device(device: str | torch.device = "auto") -> torch.device:
    """:func:`gs.profiles.resolve_device` as a ``torch.device``."""
    return torch.device(resolve_device(str(device)))


def save_grid(images: Tensor, path: str | Path, nrow: int = 8, pad: int = 2) -> Path:
    """Save ``images (N, 3, H, W)`` in [0, 1] as a PNG grid of ``nrow`` columns."""
    from PIL import Image

    images = images.detach().float().clamp(0, 1).cpu()
    n, c, h, w = images.shape
    ncol = min(nrow, n)
    nr = math.ceil(n / ncol)
    grid = torch.ones(c, nr * (h + pad) + pad, ncol * (w + pad) + pad)
    for i in range(n):
        r, q = divmod(i, ncol)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[:, top : top + h, left : left + w] = images[i]
    arr = (grid.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _rng_state(device: torch.device) -> dict:
    _, keys, pos, has_gauss, cached = np.random.get_state()
    st = {"torch": torch.get_rng_state(), "numpy": torch.from_numpy(keys.astype(np.int64)),
          "numpy_rest": [int(pos), int(has_gauss), float(cached)]}
    if device.type == "cuda":
        st["cuda"] = torch.cuda.get_rng_state(device)
    return st


def _set_rng_state(st: dict, device: torch.device) -> None:
    torch.set_rng_state(st["torch"])
    pos, has_gauss, cached = st["numpy_rest"]
    np.random.set_state(("MT19937", st["numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    if "cuda" in st and device.type == "cuda":
        torch.cuda.set_rng_state(st["cuda"], device)


def _config_json(cfg: TrainConfig) -> dict:
    d = dataclasses.asdict(cfg)
    return json.loads(json.dumps(d, default=list))


@dataclass
class TrainResult:
    """What :func:`train` returns: the run directory, the exported generator and its sha256."""

    run_dir: Path
    generator_path: Path
    sha256: str
    step: int
    wall_s: float
    last: dict


def schedule(cfg: TrainConfig, stream) -> tuple[int, int]:
    """``(steps_per_epoch, total_steps)`` for a config and its data stream."""
    if isinstance(stream, ImageFolderStream):
        spe = stream.batches_per_epoch
    else:
        spe = max(1, (cfg.epoch_size or 10_000) // cfg.batch_size)
    total = cfg.steps if cfg.steps is not None else max(1, round(cfg.epochs * spe))
    return spe, total


def default_run_dir(cfg: TrainConfig) -> Path:
    tag = cfg.data.split(":")[0]
    return Path("runs") / f"{cfg.model_name}-{tag}-seed{cfg.seed}"


def train(cfg: TrainConfig, resume: bool = False, command: str | None = None,
          stream=None) -> TrainResult:
    """Train one generator as configured; returns a :class:`TrainResult`.

    With ``resume=True`` and a ``state.pt`` in the run directory, training continues from
    it exactly (model, optimisers, schedulers, k, RNG states, data position).
    ``stream`` overrides the data stream (tests).
    """
    t0 = time.time()
    device = _device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    if cfg.deterministic:
        torch.use_deterministic_algorithms(True)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed % 2**32)
    run_dir = Path(cfg.out) if cfg.out else default_run_dir(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    stream = stream if stream is not None else make_stream(cfg, device)
    spe, total = schedule(cfg, stream)
    stop = min(total, cfg.stop_at) if cfg.stop_at else total
    if cfg.objective == "distill":
        if cfg.model != "began" or not isinstance(stream, DigiFaceStream):
            raise ValueError("--objective distill is for BEGAN on --data digiface")
        trainer: Trainer = BEGANDistillTrainer(cfg, device, spe, total)
    elif cfg.objective == "gan":
        trainer = TRAINERS[cfg.model](cfg, device, spe, total)
    else:
        raise ValueError(f"unknown objective {cfg.objective!r}; use gan or distill")
    pairs = getattr(trainer, "wants_pairs", False)
    if cfg.init_from:
        init = torch.load(cfg.init_from, map_location="cpu", weights_only=True)
        trainer.G.load_state_dict(init["state_dict"], strict=True)
    step = 0
    state_path = run_dir / "state.pt"
    if resume and state_path.is_file():
        st = torch.load(state_path, map_location="cpu", weights_only=True)
        trainer.load_state_dict(st["trainer"])
        stream.load_state_dict(st["stream"])
        _set_rng_state(st["rng"], device)
        step = int(st["step"])
    (run_dir / "config.json").write_text(
        json.dumps({**_config_json(cfg), "command": command, "steps_per_epoch": spe,
                    "total_steps": total, "device_used": str(device),
                    "torch": torch.__version__, "threads": torch.get_num_threads()}, indent=2)
    )
    fixed_z = trainer.sample_latents(64, seed=cfg.seed + 12345)

    def checkpoint(s: int) -> tuple[Path, str]:
        _atomic_save({"step": s, "config": _config_json(cfg), "trainer": trainer.state_dict(),
                      "stream": stream.state_dict(), "rng": _rng_state(device)}, state_path)
        from gs.zoo import save_checkpoint

        gpath = run_dir / "generator.pt"
        meta = {"step": s, "seed": cfg.seed, "data": cfg.data, "total_steps": total}
        if command:
            meta["command"] = command
        sha = save_checkpoint(trainer.G, gpath, cfg.model_name, _config_json(cfg)["model_kwargs"],
                              **meta)
        return gpath, sha

    log = open(run_dir / "log.jsonl", "a")
    pbar = None
    if cfg.progress:
        from tqdm.auto import tqdm

        pbar = tqdm(total=stop, initial=step, desc=f"train {cfg.model_name}", dynamic_ncols=True)
    trainer.G.train()
    last: dict = {}
    gpath, sha = run_dir / "generator.pt", ""
    try:
        while step < stop:
            x = stream.next_pair(trainer.G.latent_dim_z) if pairs else stream.next()
            last = trainer.step(x, step)
            step += 1
            if not all(math.isfinite(v) for v in last.values()):
                raise FloatingPointError(f"non-finite loss at step {step}: {last}")
            if step % cfg.log_every == 0 or step == stop:
                log.write(json.dumps({"step": step, "t": round(time.time() - t0, 1), **last})
                          + "\n")
                log.flush()
            if pbar is not None:
                pbar.update(1)
                if step % cfg.log_every == 0:
                    pbar.set_postfix({k: f"{v:.4g}" for k, v in last.items()})
            if step % cfg.sample_every == 0 or step == stop:
                save_grid(trainer.sample(fixed_z), run_dir / f"samples_{step:06d}.png")
            if step % cfg.ckpt_every == 0 or step == stop:
                gpath, sha = checkpoint(step)
    finally:
        log.close()
        if pbar is not None:
            pbar.close()
    if not sha:  # nothing to do (already at stop): export the current state
        gpath, sha = checkpoint(step)
    return TrainResult(run_dir, gpath, sha, step, time.time() - t0, last)
