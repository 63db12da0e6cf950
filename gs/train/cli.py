"""Command line of :mod:`gs.train` (``python -m gs.train``): profile preset, then every
override given; optionally registers the trained generator in the local zoo."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gs.train.config import MODEL_NAMES, PAPER_ZOO_NAMES, PRESETS, PROFILE_ALL, TrainConfig
from gs.train.loop import train


def config_from_args(model: str, args: argparse.Namespace) -> TrainConfig:
    """Profile preset for ``model``, then every command-line override that was given."""
    kw: dict[str, Any] = {"model": model, **PRESETS[args.profile][model]}
    kw["model_kwargs"] = dict(kw.get("model_kwargs", {}))
    kw["disc_kwargs"] = dict(kw.get("disc_kwargs", {}))
    for name in ("data", "data_root", "image_size", "batch_size", "lr", "epochs", "epoch_size",
                 "steps", "stop_at", "seed", "device", "threads", "out", "sample_every",
                 "ckpt_every", "log_every", "workers", "objective", "init_from", "gamma",
                 "lambda_k", "beta"):
        v = getattr(args, name)
        if v is not None:
            kw[name] = v
    if args.ch is not None:
        key = "ngf" if model == "dcgan" else "ch"
        if model != "vae":
            kw["model_kwargs"][key] = args.ch
    if args.d_ch is not None:
        kw["disc_kwargs"]["ndf" if model == "dcgan" else "ch"] = args.d_ch
    if args.d_convs is not None and model == "began":
        kw["disc_kwargs"]["convs_per_level"] = args.d_convs
    if args.widths is not None and model == "vae":
        kw["model_kwargs"]["widths"] = tuple(int(w) for w in args.widths.split(","))
    if args.clamp_k is not None:
        kw["clamp_k"] = args.clamp_k
    if args.amp is not None:
        kw["amp"] = args.amp
    if args.deterministic:
        kw["deterministic"] = True
    if args.no_progress:
        kw["progress"] = False
    if args.out is not None and args.model == "all":
        kw["out"] = str(Path(args.out) / model)
    if "model_kwargs" in kw and "widths" in kw["model_kwargs"]:
        kw["model_kwargs"]["widths"] = list(kw["model_kwargs"]["widths"])
    return TrainConfig(**kw)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gs.train",
        description="Train DCGAN / BEGAN / VAE generators (see the gs.train docstring).",
    )
    p.add_argument("model", choices=(*MODEL_NAMES, "all"))
    p.add_argument("--profile", choices=tuple(PRESETS), default="offline")
    p.add_argument("--data", help="digiface | celeba | folder:PATH")
    p.add_argument("--data-root", help="CelebA img_align_celeba folder (for --data celeba)")
    p.add_argument("--image-size", type=int)
    p.add_argument("--ch", type=int, help="generator width (DCGAN ngf, BEGAN ch)")
    p.add_argument("--d-ch", type=int, help="discriminator width (DCGAN ndf, BEGAN ch)")
    p.add_argument("--d-convs", type=int, help="BEGAN encoder convs per scale (paper: 2)")
    p.add_argument("--widths", help="VAE decoder widths, comma separated")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--epochs", type=float)
    p.add_argument("--epoch-size", type=int, help="images per epoch of the digiface stream")
    p.add_argument("--steps", type=int, help="schedule length in steps (default from epochs)")
    p.add_argument("--stop-at", type=int, help="stop at this step of the schedule")
    p.add_argument("--seed", type=int)
    p.add_argument("--device")
    p.add_argument("--threads", type=int)
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--clamp-k", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--objective", choices=("gan", "distill"),
                   help="BEGAN only: gan (the recipe) or distill (L1 regression on the "
                   "DigiFace DCGAN, not the paper's)")
    p.add_argument("--init-from", help="initialise the generator from this gs checkpoint")
    p.add_argument("--gamma", type=float)
    p.add_argument("--lambda-k", type=float)
    p.add_argument("--beta", type=float)
    p.add_argument("--deterministic", action="store_true")
    p.add_argument("--out", help="run directory (for 'all': a parent folder)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/state.pt")
    p.add_argument("--sample-every", type=int)
    p.add_argument("--ckpt-every", type=int)
    p.add_argument("--log-every", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--register", help="after training, add the generator to the local zoo "
                   "file under this name (default for --profile paper: dcgan64-celeba, ...)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = "python -m gs.train " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    models = PROFILE_ALL[args.profile] if args.model == "all" else (args.model,)
    for model in models:
        cfg = config_from_args(model, args)
        res = train(cfg, resume=args.resume, command=command)
        print(f"{cfg.model_name}: {res.step} steps in {res.wall_s:.0f} s -> {res.generator_path} "
              f"(sha256 {res.sha256})")
        name = args.register or (PAPER_ZOO_NAMES[model] if args.profile == "paper" else None)
        if name and args.model == "all" and args.register:
            name = f"{args.register}-{model}"
        if name:
            from gs.zoo import add_local_entry

            reg = add_local_entry(name, res.generator_path, training=command,
                                  description=f"{cfg.model_name} trained on {cfg.data} "
                                              f"({res.step} steps, seed {cfg.seed})")
            print(f"registered {name!r} in {reg}")
    return 0
