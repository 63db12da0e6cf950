"""Benchmark: mGANprior with its images batched in lanes against one image at a time.

For each model family, the same mGANprior recovery (the profile's zoo model, the paper's
settings except the number of Adam steps, dense Gaussian CS at ``--m`` with the paper's
noise, 3 restarts, generator samples as ground truth, one seed per image) is run

(a) one image at a time, its 3 restarts in one call (``lane_width=3``): how the sweep ran
    mGANprior before its records were batched (engine 2);
(b) all ``--images`` images in one call, in the CPU lanes of
    :data:`gs.baselines.mgan.MGAN_CPU_LANES` (``lane_width="auto"``): how the sweep runs it
    now, each image's result the same whichever images share its batch.

It prints the seconds per image and Adam step both ways, the speed-up of (b) over (a),
the float32 rate of (b) against the matmul peak measured in the same run, and the mean
PSNR both ways (they differ only by the rounding of other kernel shapes).

    nice python bench/baselines.py                       # DCGAN, VAE, BEGAN; 40 steps
    python bench/baselines.py --families dcgan --steps 100 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gs.baselines.mgan import MGAN_CPU_LANES, MGAN_SETTINGS, recover_mgan  # noqa: E402
from gs.flops import generator_flops, matmul_peak, operator_flops  # noqa: E402
from gs.operators import make_operator, paper_noise_std  # noqa: E402
from gs.profiles import get_profile  # noqa: E402


def step_flops(g, op, cut: int, n_codes: int) -> int:
    """FLOPs of one Adam step of one problem: ``n_codes`` codes through blocks ``[0, cut)``,
    the mix through the rest, the operator; the backward pass to the inputs costs the same."""
    head = generator_flops(g, 0) - generator_flops(g, cut)
    return 2 * (n_codes * head + generator_flops(g, cut) + operator_flops(op))


def run_family(family: str, model: str, images: int, steps: int, m: int) -> dict:
    from gs import zoo

    g = zoo.load(model, device="cpu").eval()
    s = MGAN_SETTINGS[family]
    rng = torch.Generator().manual_seed(0)
    with torch.no_grad():
        x = g(g.sample_latents(images, 0, generator=rng), cut=0).clamp(0, 1)
    shape = tuple(x.shape[1:])
    op = make_operator("cs", shape, m=m, generator=rng)
    y = op.measure(x, generator=rng)
    seeds = list(range(100, 100 + images))
    kw = dict(restarts=3, steps=steps, x_true=None)

    t0 = time.perf_counter()
    one = [recover_mgan(g, op, y[b : b + 1], image_seeds=[seeds[b]], lane_width=3, **kw)
           for b in range(images)]
    t_one = time.perf_counter() - t0
    t0 = time.perf_counter()
    lanes = recover_mgan(g, op, y, image_seeds=seeds, **kw)
    t_lanes = time.perf_counter() - t0

    def mean_psnr(imgs: torch.Tensor) -> float:
        mse = (imgs.clamp(0, 1) - x).pow(2).flatten(1).mean(1)
        return float((10 * torch.log10(1 / mse)).mean())

    flops = step_flops(g, op, s["cut"], s["n_codes"]) * 3 * images * steps
    return {
        "family": family, "model": model, "images": images, "steps": steps, "m": m,
        "noise_std": paper_noise_std(op.n, m), "lanes": MGAN_CPU_LANES[family],
        "one_at_a_time_ms_per_image_step": 1e3 * t_one / images / steps,
        "lanes_ms_per_image_step": 1e3 * t_lanes / images / steps,
        "speedup": t_one / t_lanes,
        "lanes_gflops": flops / t_lanes / 1e9,
        "psnr_one_at_a_time": mean_psnr(torch.cat([r.images for r in one])),
        "psnr_lanes": mean_psnr(lanes.images),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", default="dcgan,vae,began")
    p.add_argument("--profile", default="offline", help="whose zoo models (default offline)")
    p.add_argument("--images", type=int, default=10)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--m", type=int, default=2000)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default torch's)")
    p.add_argument("--json", default=None, help="also write the results here")
    a = p.parse_args(argv)
    models = get_profile(a.profile).models
    families = [f for f in a.families.split(",") if f]
    unknown = [f for f in families if f not in MGAN_SETTINGS or f not in models]
    if unknown or not families:
        p.error(f"--families: unknown {unknown or a.families!r}; known: {sorted(models)}")
    for name in ("images", "steps", "m"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(a, name)}")
    if a.threads is not None:
        if a.threads < 1:
            p.error(f"--threads must be >= 1, got {a.threads}")
        torch.set_num_threads(a.threads)
    peak = matmul_peak("cpu")
    print(f"[bench] CPU, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"float32 matmul peak {peak / 1e9:.1f} GFLOP/s")
    out = []
    for family in families:
        r = run_family(family, models[family], a.images, a.steps, a.m)
        r["peak_gflops"] = peak / 1e9
        r["fraction_of_peak"] = r["lanes_gflops"] / r["peak_gflops"]
        out.append(r)
        print(f"{family:6s} {a.images} images x 3 restarts, {a.steps} Adam steps, m={a.m}: "
              f"one at a time {r['one_at_a_time_ms_per_image_step']:.1f} ms/image/step, "
              f"lanes of {r['lanes']} {r['lanes_ms_per_image_step']:.1f} ms -> "
              f"{r['speedup']:.2f}x; {r['lanes_gflops']:.1f} GFLOP/s = "
              f"{100 * r['fraction_of_peak']:.0f}% of peak; PSNR {r['psnr_one_at_a_time']:.2f} "
              f"vs {r['psnr_lanes']:.2f} dB", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
