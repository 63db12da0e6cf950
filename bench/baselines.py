"""Benchmark: the baselines with their images batched in lanes against one image at a time.

For each model family and for mGANprior and IAGAN, and once for Deep Decoder (which uses no
generator), the same recovery (the profile's zoo model, the paper's settings at
``--budget`` of its step counts, dense Gaussian CS at ``--m`` with the paper's noise, 3
restarts, generator samples as ground truth, one seed per image) is run

(a) one image at a time, its 3 restarts in one call (``lane_width=3``): how the sweep ran
    these baselines before their records were batched (engine 2); for Deep Decoder also
    with its layers resized by ``F.interpolate``, as before its engine 3;
(b) all ``--images`` images in one call, in the method's CPU lanes
    (:data:`~gs.baselines.mgan.MGAN_CPU_LANES`, :data:`~gs.baselines.iagan.IAGAN_CPU_LANES`,
    :data:`~gs.baselines.deep_decoder.DD_CPU_LANES`; ``lane_width="auto"``): how the sweep
    runs them now, each image's result the same whichever images share its batch.

It prints the seconds per image both ways and projected to the full budget, the speed-up
of (b) over (a), the float32 rate of (b) against the matmul peak measured in the same run
(FLOPs counted from the layers, :mod:`gs.flops`), and the mean PSNR both ways (they
differ only by the rounding of other kernel shapes, amplified by the optimisation).

    nice python bench/baselines.py                      # every family, 1% of the budget
    python bench/baselines.py --families dcgan --methods mgan --budget 0.05 --json out.json
    python bench/baselines.py --methods deep_decoder     # Deep Decoder only (DCGAN samples)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager, nullcontext
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gs.baselines.deep_decoder as dd_recovery  # noqa: E402
import gs.models.deep_decoder as dd_model  # noqa: E402
from gs.baselines.iagan import IAGAN_CPU_LANES, IAGAN_SETTINGS, recover_iagan  # noqa: E402
from gs.baselines.mgan import MGAN_CPU_LANES, MGAN_SETTINGS, recover_mgan  # noqa: E402
from gs.flops import generator_flops, matmul_peak, operator_flops  # noqa: E402
from gs.operators import make_operator  # noqa: E402
from gs.profiles import get_profile  # noqa: E402

METHODS = ("mgan", "iagan", "deep_decoder")


def budget_steps(method: str, family: str, budget: float) -> dict:
    """The method's step counts at ``budget`` of the paper's (at least 1 each)."""
    if method == "deep_decoder":
        return {"steps": max(1, round(dd_recovery.DD_STEPS * budget))}
    s = (MGAN_SETTINGS if method == "mgan" else IAGAN_SETTINGS)[family]
    names = ("steps",) if method == "mgan" else ("steps", "steps2")
    return {n: max(1, round(s[n] * budget)) for n in names}


def problem_flops(method: str, family: str, g, op, steps: dict) -> int:
    """FLOPs of one problem over ``steps``: forward and backward to the inputs (the
    backward costs the forward); IAGAN's stage 2 adds the weights' gradients (another
    forward's worth)."""
    op_f = operator_flops(op)
    if method == "deep_decoder":  # 1x1 convs and resizing matrices; backward: 2 forwards
        size = op.image_shape[-1]
        k, depth = (dd_model.DD_SETTINGS[size][n] for n in ("k", "depth"))
        sizes = dd_model.upsample_sizes(size, depth)
        fwd, s_in = 0, 2
        for s_out in sizes:
            fwd += 2 * k * k * s_in**2 + k * (2 * s_out * s_in**2 + 2 * s_out**2 * s_in)
            s_in = s_out
        fwd += 2 * 3 * k * size**2
        return (3 * fwd + 2 * op_f) * steps["steps"]
    if method == "mgan":
        cut, n = MGAN_SETTINGS[family]["cut"], MGAN_SETTINGS[family]["n_codes"]
        head = generator_flops(g, 0) - generator_flops(g, cut)
        return 2 * (n * head + generator_flops(g, cut) + op_f) * steps["steps"]
    full = generator_flops(g, 0)
    return 2 * (full + op_f) * steps["steps"] + (3 * full + 2 * op_f) * steps["steps2"]


@contextmanager
def interpolated_resizing():
    """Deep Decoder's layers resized by ``F.interpolate`` (its engine 2) instead of the
    interpolation matrices: the same linear map, other kernels."""
    saved = dd_recovery.batched_forward
    dd_recovery.batched_forward = partial(saved, resize="interpolate")
    try:
        yield
    finally:
        dd_recovery.batched_forward = saved


def run(method: str, family: str, model: str, images: int, budget: float, m: int) -> dict:
    from gs import zoo

    g = zoo.load(model, device="cpu").eval()
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x = g(g.sample_latents(images, 0, generator=rng), cut=0).clamp(0, 1)
    op = make_operator("cs", tuple(x.shape[1:]), m=m, generator=rng)
    y = op.measure(x, generator=rng)
    seeds = list(range(100, 100 + images))
    fn = {"mgan": recover_mgan, "iagan": recover_iagan,
          "deep_decoder": lambda _g, *a, **k: dd_recovery.recover_deep_decoder(None, *a, **k)
          }[method]
    steps = budget_steps(method, family, budget)
    kw = dict(restarts=3, **steps)
    before = interpolated_resizing if method == "deep_decoder" else nullcontext  # engine 2
    warm = {**kw, **{n: 1 for n in steps}}  # first-call costs, untimed, on both sides
    with before():
        fn(g, op, y[:1], image_seeds=seeds[:1], lane_width=3, **warm)
    fn(g, op, y, image_seeds=seeds, **warm)

    t0 = time.perf_counter()
    with before():
        one = [fn(g, op, y[b : b + 1], image_seeds=[seeds[b]], lane_width=3, **kw)
               for b in range(images)]
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    lanes = fn(g, op, y, image_seeds=seeds, **kw)
    t_lanes = time.perf_counter() - t0

    def mean_psnr(imgs: torch.Tensor) -> float:
        mse = (imgs.clamp(0, 1) - x).pow(2).flatten(1).mean(1)
        return float((10 * torch.log10(1 / mse)).mean())

    width = {"mgan": MGAN_CPU_LANES, "iagan": IAGAN_CPU_LANES}.get(method, {}).get(
        family, dd_recovery.DD_CPU_LANES)
    return {
        "method": method, "family": family, "model": model, "images": images, "m": m,
        "budget": budget, **steps, "lanes": width,
        "one_at_a_time_s_per_image": t_one / images, "lanes_s_per_image": t_lanes / images,
        "full_budget_one_at_a_time_s_per_image": t_one / images / budget,
        "full_budget_lanes_s_per_image": t_lanes / images / budget,
        "speedup": t_one / t_lanes,
        "lanes_gflops": problem_flops(method, family, g, op, steps) * 3 * images / t_lanes / 1e9,
        "psnr_one_at_a_time": mean_psnr(torch.cat([r.images for r in one])),
        "psnr_lanes": mean_psnr(lanes.images),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", default="dcgan,vae,began")
    p.add_argument("--methods", default="mgan,iagan,deep_decoder")
    p.add_argument("--profile", default="offline", help="whose zoo models (default offline)")
    p.add_argument("--images", type=int, default=10)
    p.add_argument("--budget", type=float, default=0.01,
                   help="fraction of the paper's step counts (default 0.01)")
    p.add_argument("--m", type=int, default=2000)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default torch's)")
    p.add_argument("--json", default=None, help="also write the results here")
    a = p.parse_args(argv)
    models = get_profile(a.profile).models
    families = [f for f in a.families.split(",") if f]
    methods = [f for f in a.methods.split(",") if f]
    bad = [f for f in families if f not in MGAN_SETTINGS or f not in models]
    if bad or not families:
        p.error(f"--families: unknown {bad or a.families!r}; known: {sorted(models)}")
    bad = [f for f in methods if f not in METHODS]
    if bad or not methods:
        p.error(f"--methods: unknown {bad or a.methods!r}; known: {list(METHODS)}")
    if a.images < 1 or a.m < 1:
        p.error(f"--images and --m must be >= 1, got {a.images} and {a.m}")
    if not 0 < a.budget <= 1:
        p.error(f"--budget must be in (0, 1], got {a.budget}")
    if a.threads is not None:
        if a.threads < 1:
            p.error(f"--threads must be >= 1, got {a.threads}")
        torch.set_num_threads(a.threads)
    peak = matmul_peak("cpu")
    print(f"[bench] CPU, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"float32 matmul peak {peak / 1e9:.1f} GFLOP/s; {a.images} images x 3 restarts, "
          f"m={a.m}, {a.budget:g} of the paper's steps")
    out = []
    jobs = [(method, family) for family in families for method in methods
            if method != "deep_decoder"]
    if "deep_decoder" in methods:  # no generator: once, on the first family's samples
        jobs.append(("deep_decoder", families[0]))
    for method, family in jobs:
        r = run(method, family, models[family], a.images, a.budget, a.m)
        r["peak_gflops"] = peak / 1e9
        r["fraction_of_peak"] = r["lanes_gflops"] / r["peak_gflops"]
        out.append(r)
        steps = "/".join(str(r[k]) for k in ("steps", "steps2") if k in r)
        who = family if method != "deep_decoder" else f"({family} samples)"
        print(f"{method:5s} {who:5s} ({steps} steps): one image at a time "
              f"{r['one_at_a_time_s_per_image']:.2f} s/image, lanes of {r['lanes']} "
              f"images "
              f"{r['lanes_s_per_image']:.2f} s -> {r['speedup']:.2f}x (full budget "
              f"{r['full_budget_one_at_a_time_s_per_image']:.0f} -> "
              f"{r['full_budget_lanes_s_per_image']:.0f} s/image); "
              f"{r['lanes_gflops']:.1f} GFLOP/s = {100 * r['fraction_of_peak']:.0f}% of "
              f"peak; PSNR {r['psnr_one_at_a_time']:.2f} vs {r['psnr_lanes']:.2f} dB",
              flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
