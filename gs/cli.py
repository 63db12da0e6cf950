"""Command line of :mod:`gs` (``python -m gs``): ``recover`` one photo of your own.

``python -m gs recover photo.jpg --model dcgan64-digiface --ratio 0.1 --cut auto --out result/``

1. The photo (any format PIL reads: JPEG, PNG, WebP, ...; turned upright by its EXIF
   orientation) is centre-cropped to the square of its shorter side and resized with PIL
   bilinear interpolation to the model's resolution (64 px for the offline models), as
   every image of the package is (:func:`gs.data.images.load_image`). Its shorter side
   must be at least 32 px.
2. It is measured: Gaussian compressed sensing with ``m = round(ratio * n)`` noisy
   measurements and the paper's noise level (``--operator cs``), inpainting keeping a
   fraction ``ratio`` of the pixel values (``inpainting``, noiseless), or 4x
   down-sampling (``sr``, noiseless; no ratio).
3. It is recovered with surgery at the cut chosen from the measurements themselves
   (``--cut auto``, :mod:`gs.autocut`) or at a given cut, without surgery (cut 0) and
   with Lasso-DCT, each restart and step count as given.
4. ``--out`` receives ``comparison.{png,pdf,csv}`` (a talk-size figure: original,
   measurements where they can be shown, the three recoveries with PSNR and SSIM),
   ``original.png``, ``measurements.png`` (inpainting, sr), one PNG per recovery, and
   ``results.json`` with every number and setting.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: The smallest shorter side (px) of a photo ``recover`` accepts.
MIN_SIDE = 32

OPERATORS = ("cs", "inpainting", "sr")


class RecoverError(ValueError):
    """A problem with the input of ``python -m gs recover``, said in one line."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m gs", description="Generator surgery for compressed sensing. Other "
        "commands: python -m gs.notebooks (run the notebooks), python -m gs.figures (redraw "
        "the figures from shipped results), python -m gs.results (per-task results and the "
        "README's numbers), python -m gs.paper (the paper profile end to end), "
        "python -m gs.data (test images), python -m gs.train (training).")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser(
        "recover", help="recover one photo with and without surgery and with Lasso-DCT",
        description=__doc__.split("\n\n")[1].strip().splitlines()[0] + "\n\n"
        + "\n\n".join(__doc__.split("\n\n")[2:]),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("photo", type=Path, help="a JPEG, PNG or other image file")
    r.add_argument("--model", default="dcgan64-digiface", help="a zoo entry (default "
                   "%(default)s)")
    r.add_argument("--operator", default="cs", help=f"one of {', '.join(OPERATORS)} "
                   "(default %(default)s)")
    r.add_argument("--ratio", type=float, default=None,
                   help="cs: measurements per pixel value m/n (default 0.1); inpainting: "
                        "fraction of pixel values kept (default 0.1); not for sr")
    r.add_argument("--cut", default="auto", help="'auto' (chosen from the measurements) or "
                   "a cut index (default %(default)s)")
    r.add_argument("--cuts", type=int, nargs="+", default=None,
                   help="candidate cuts of --cut auto (default 0 1 2 3)")
    r.add_argument("--steps", type=int, default=5, help="L-BFGS outer steps, up to 20 "
                   "iterations each (default %(default)s; the paper's 25)")
    r.add_argument("--restarts", type=int, default=2, help="random restarts (default "
                   "%(default)s; the paper's 3)")
    r.add_argument("--lr", type=float, default=None,
                   help="L-BFGS learning rate (default: the paper's for the model's family)")
    r.add_argument("--lasso-iters", type=int, default=2000, help="most FISTA iterations of "
                   "Lasso-DCT (tolerance 1e-5; default %(default)s)")
    r.add_argument("--seed", type=int, default=0, help="seeds the operator, the noise and "
                   "the starts (default %(default)s)")
    r.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda if "
                   "present)")
    r.add_argument("--out", type=Path, default=Path("result"), help="output folder "
                   "(default %(default)s)")
    return p


# ---------------------------------------------------------------------------- inputs
def load_photo(path: Path, size: int):
    """The photo as ``(1, 3, size, size)`` in [0, 1] (centre square, PIL bilinear), and its
    original ``(width, height)``. Raises :class:`RecoverError` naming the problem."""
    from PIL import Image, UnidentifiedImageError

    from gs.data.images import load_image

    if not path.exists():
        raise RecoverError(f"{path}: no such file")
    if path.is_dir():
        raise RecoverError(f"{path} is a folder; give an image file")
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            w, h = im.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise RecoverError(f"cannot read {path} as an image ({type(e).__name__}: {e}); give "
                           "a JPEG, PNG or another format PIL reads") from None
    if min(w, h) < MIN_SIDE:
        raise RecoverError(f"{path} is {w}x{h} px; its shorter side must be at least "
                           f"{MIN_SIDE} px")
    return load_image(path, size).unsqueeze(0), (w, h)


def check_model(name: str):
    """The architecture of zoo entry ``name`` without its weights (meta device), to check
    the other arguments before anything is loaded; :class:`RecoverError` lists the known
    entries when it is unknown or its weights are missing."""
    import torch

    from gs import zoo
    from gs.models import build

    known = sorted(zoo.entries())
    if name not in known:
        raise RecoverError(f"unknown model {name!r}; known models: {', '.join(known)}")
    if not zoo.available(name):
        have = [k for k in known if zoo.available(k)]
        raise RecoverError(f"the weights of {name!r} are not installed here (python -m "
                           f"gs.train registers trained ones); installed: {', '.join(have)}")
    entry = zoo.get(name)
    with torch.device("meta"):
        return build(entry.model, **entry.model_kwargs)


def build_operator(name: str, ratio: float | None, size: int, seed: int, device: str):
    """The operator and a description; :class:`RecoverError` for an unknown operator or an
    impossible ratio."""
    import torch

    from gs.operators import make_operator

    if name not in OPERATORS:
        raise RecoverError(f"unknown operator {name!r}; choose one of {', '.join(OPERATORS)}")
    n = 3 * size * size
    rng = torch.Generator().manual_seed(seed)
    if name == "sr":
        if ratio is not None:
            raise RecoverError("--ratio does not apply to sr (it measures the image "
                               "down-sampled 4x)")
        return make_operator("sr", (3, size, size), device=device), "4x down-sampling"
    ratio = 0.1 if ratio is None else ratio
    if not math.isfinite(ratio) or not 0 < ratio <= 1:
        raise RecoverError(f"--ratio must be in (0, 1], got {ratio}")
    if name == "cs":
        m = round(ratio * n)
        if m < 2:
            raise RecoverError(f"--ratio {ratio} gives {m} measurement(s) of n = {n}; "
                               "at least 2 are needed")
        op = make_operator("cs", (3, size, size), m=m, generator=rng, device=device)
        return op, f"Gaussian CS, m = {m} (m/n = {m / n:.3f})"
    if int(ratio * n) < 2:
        raise RecoverError(f"--ratio {ratio} keeps {int(ratio * n)} pixel value(s) of n = "
                           f"{n}; at least 2 are needed")
    op = make_operator("inpainting", (3, size, size), generator=rng, device=device,
                       fraction=ratio)
    return op, f"inpainting, {op.m} of {n} pixel values kept"


def check_device(name: str) -> str:
    """``name`` resolved (``auto`` -> cuda if present, else cpu) and checked by making an
    empty tensor there; :class:`RecoverError` for an unknown device or one this torch
    cannot use (e.g. cuda on a CPU-only build)."""
    import torch

    from gs.profiles import resolve_device

    device = resolve_device(name)
    try:
        if torch.device(device).type == "meta":
            raise RuntimeError("the meta device holds no values")
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError, NotImplementedError, ValueError) as e:
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        if len(why) > 120:
            why = why[:117] + "..."
        raise RecoverError(f"cannot use --device {name!r} here ({why}); cpu always "
                           "works") from None
    return device


def check_out(out: Path) -> None:
    """:class:`RecoverError` when ``out`` (or the first of its parents that exists) is not
    a folder, so that it cannot become one."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                raise RecoverError(f"--out {out}: {path} is a file, not a folder")
            return


def parse_cut(value: str, generator) -> int | None:
    """None for ``auto``, else a valid cut of ``generator``."""
    if value == "auto":
        return None
    try:
        cut = int(value)
    except ValueError:
        raise RecoverError(f"--cut must be 'auto' or a cut index, got {value!r}") from None
    try:
        return generator.check_cut(cut)
    except ValueError as e:
        raise RecoverError(str(e)) from None


# --------------------------------------------------------------------------- outputs
def _write_png(image, path: Path) -> None:
    """``(3, H, W)`` image -> 8-bit PNG, through a temporary file."""
    from gs.sweep.store import encode_png

    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(encode_png(image))
    os.replace(tmp, path)


def _measurement_view(operator, y):
    """An image of the measurements where one means something: the kept pixels
    (inpainting, others black) or the low-resolution image (sr, nearest up-sampling)."""
    import torch.nn.functional as F

    from gs.operators import Inpainting, SuperResolution

    if isinstance(operator, Inpainting):
        return y[0]
    if isinstance(operator, SuperResolution):
        return F.interpolate(y, size=operator.image_shape[1:], mode="nearest")[0]
    return None


def _comparison_figure(x, view, results: list[dict], images: dict, title: str):
    """One row: original, measurements (if shown), each recovery with PSNR and SSIM."""
    from gs import plotting

    plotting.set_style("talk")
    panels = [("Original", x[0], "")]
    if view is not None:
        panels.append(("Measurements", view, ""))
    panels += [(r["label"], images[r["method"]], f"{r['psnr']:.1f} dB\nSSIM {r['ssim']:.2f}")
               for r in results]
    fig, axes = plotting.plt.subplots(1, len(panels), figsize=(2.5 * len(panels), 3.7),
                                      squeeze=False)
    for ax, (label, image, caption) in zip(axes[0], panels, strict=True):
        ax.imshow(plotting.to_numpy_image(image), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
        ax.set_title(label, fontsize="small")
        ax.set_xlabel(caption, fontsize="small")
    fig.suptitle(title, fontsize="x-small")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ run
def recover_photo(a: argparse.Namespace, say=print) -> dict:
    """Run ``recover`` for parsed arguments ``a``; returns the JSON summary."""
    import torch

    import gs
    from gs import autocut, plotting, zoo
    from gs.baselines import recover_lasso_dct
    from gs.metrics import psnr as psnr_fn
    from gs.metrics import ssim as ssim_fn
    from gs.profiles import PROFILES
    from gs.recovery import recover
    from gs.surgery import prepare_for_recovery

    for name, value in (("steps", a.steps), ("restarts", a.restarts),
                        ("lasso-iters", a.lasso_iters)):
        if value < 1:
            raise RecoverError(f"--{name} must be at least 1, got {value}")
    if a.lr is not None and not (math.isfinite(a.lr) and a.lr > 0):
        raise RecoverError(f"--lr must be a positive number, got {a.lr}")
    if a.cuts is not None and a.cut != "auto":
        raise RecoverError(f"--cuts only applies with --cut auto (got --cut {a.cut})")
    check_out(a.out)
    device = check_device(a.device)
    t_start = time.perf_counter()
    arch = check_model(a.model)  # every argument is checked before anything is loaded
    size = arch.image_size
    x, (w, h) = load_photo(a.photo, size)
    cut = parse_cut(a.cut, arch)
    cuts = None if a.cuts is None else tuple(a.cuts)
    for c in cuts or ():
        parse_cut(str(c), arch)
    op, what = build_operator(a.operator, a.ratio, size, a.seed, device)
    generator = prepare_for_recovery(zoo.load(a.model, device))
    x = x.to(device)
    y = op.measure(x, generator=torch.Generator().manual_seed(a.seed + 1))
    lr = a.lr if a.lr is not None else PROFILES["offline"].lr.get(generator.name, 0.1)
    say(f"[gs recover] {a.photo} ({w}x{h} px, centre square resized to {size} px); model "
        f"{a.model}; {what}; {a.restarts} restart(s) x {a.steps} L-BFGS step(s), lr {lr}; "
        f"device {device}")
    # one image: no fixed-width lanes (they only buy batch invariance, at a cost here)
    budget = dict(restarts=a.restarts, steps=a.steps, lr=lr, seed=a.seed, lane_width=None)

    def line(msg: str) -> None:
        say(f"[gs recover]   {msg}")

    runs, details = {}, {}
    t0 = time.perf_counter()
    if cut is None:
        say(f"[gs recover] surgery, cut chosen from the measurements (candidates "
            f"{list(cuts or [c for c in autocut.CANDIDATE_CUTS if c in generator.valid_cuts])}"
            f", {autocut.HOLDOUT:.0%} held out)")
        try:
            res = autocut.recover_auto_cut(generator, op, y, cuts, x_true=x, log=line,
                                           **budget)
        except ValueError as e:  # e.g. too few measurements to hold some out
            raise RecoverError(str(e)) from None
        chosen = int(res.cut[0])
        details = {"chosen_cut": chosen, "candidate_cuts": list(res.cuts),
                   "holdout": autocut.HOLDOUT, "heldout_residual": {
                       str(c): float(res.heldout[0, j]) for j, c in enumerate(res.cuts)},
                   "cross_validation_seconds": res.cv_seconds}
    else:
        say(f"[gs recover] surgery at cut {cut}")
        res = recover(generator, op, y, cut, x_true=x, **budget)
        chosen = cut
    runs["surgery"] = (res.images, time.perf_counter() - t0)
    say(f"[gs recover] surgery at cut {chosen}: {float(res.psnr[0]):.2f} dB "
        f"({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    if chosen == 0:
        runs["no_surgery"] = runs["surgery"]
        say("[gs recover] no surgery: the chosen cut is 0, the same recovery")
    else:
        res0 = recover(generator, op, y, 0, x_true=x, **budget)
        runs["no_surgery"] = (res0.images, time.perf_counter() - t0)
        say(f"[gs recover] no surgery (cut 0): {float(res0.psnr[0]):.2f} dB "
            f"({time.perf_counter() - t0:.1f} s)")
    t0 = time.perf_counter()
    lasso = recover_lasso_dct(None, op, y, steps=a.lasso_iters, tol=1e-5, seed=a.seed,
                              x_true=x)
    n_iter = int(lasso.info["n_iter"][0])
    runs["lasso_dct"] = (lasso.images, time.perf_counter() - t0)
    say(f"[gs recover] Lasso-DCT: {float(lasso.psnr[0]):.2f} dB ({n_iter} FISTA iterations, "
        f"{time.perf_counter() - t0:.1f} s)")

    labels = {"surgery": f"Surgery\n(cut {chosen}{', auto' if cut is None else ''})",
              "no_surgery": "No surgery\n(cut 0)", "lasso_dct": "Lasso-DCT\n"}
    results, images = [], {}
    for method, (img, seconds) in runs.items():
        clamped = img.detach().float().clamp(0, 1)
        images[method] = clamped[0]
        results.append({"method": method, "label": labels[method],
                        "psnr": float(psnr_fn(clamped, x.float())[0]),
                        "ssim": float(ssim_fn(clamped, x.float())[0]), "seconds": seconds,
                        "cut": {"surgery": chosen, "no_surgery": 0}.get(method)})
    a.out.mkdir(parents=True, exist_ok=True)
    _write_png(x[0], a.out / "original.png")
    view = _measurement_view(op, y)
    if view is not None:
        _write_png(view.clamp(0, 1), a.out / "measurements.png")
    for method, img in images.items():
        _write_png(img, a.out / f"{method}.png")
    import pandas as pd

    title = (f"{a.photo.name}: {what}\n{a.model}, {a.restarts} restart(s) x {a.steps} "
             "L-BFGS step(s)")
    fig = _comparison_figure(x, view, results, images, title)
    plotting.save_figure(fig, "comparison", a.out, pd.DataFrame(
        [{**r, "photo": str(a.photo), "model": a.model, "operator": a.operator, "m": op.m,
          "n": op.n} for r in results]))
    plotting.plt.close(fig)
    summary = {
        "photo": str(a.photo), "photo_size": [w, h], "image_size": size, "model": a.model,
        "operator": a.operator, "measurements": what, "m": op.m, "n": op.n,
        "ratio": op.m / op.n, "noise_std": float(op.noise_std), "cut": a.cut, **details,
        "steps": a.steps, "restarts": a.restarts, "lr": lr, "seed": a.seed, "device": device,
        "lasso_iterations": n_iter, "lasso_max_iterations": a.lasso_iters,
        "results": results, "seconds": time.perf_counter() - t_start,
        "threads": torch.get_num_threads(), "gs_version": gs.__version__,
        "torch_version": torch.__version__,
    }
    tmp = a.out / ".results.json.tmp"
    tmp.write_text(json.dumps(summary, indent=2) + "\n")
    os.replace(tmp, a.out / "results.json")
    say(f"[gs recover] done in {summary['seconds']:.1f} s: {a.out / 'comparison.png'}, "
        f"{a.out / 'results.json'}")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gs recover PHOTO [options]``; exit status 2 with one line on bad input."""
    p = _parser()
    a = p.parse_args(argv)
    if a.cmd == "recover":
        try:
            recover_photo(a)
        except RecoverError as e:
            p.exit(2, f"{p.prog} recover: error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
