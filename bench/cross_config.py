"""Benchmark: recovery batched per configuration (one ``recover`` per m) against one
recovery across configurations (an :class:`~gs.operator_group.OperatorGroup`).

The same problems (DCGAN-64, cut 1, dense Gaussian CS with the paper's noise at every m of
``--ms``, ``--images`` faces x ``--restarts`` restarts, L-BFGS lr 0.1 for ``--steps``
outer steps, one operator and one set of starts per m) are recovered

(a) per m, as the sweep batched them before: one :func:`gs.recovery.recover` per m;
(b) across m, as the sweep batches surgery now: ONE ``recover`` with a group of the
    operators, the generator evaluated on the problems of every m at once.

It prints both wall times, their ratio, and checks that every image's result is the same
both ways (bit-identical on the CPU, where every evaluation runs in fixed-width lanes;
close on a GPU, where the batch is one call).

On the CPU the gain is expected to be small: the generator runs in lanes of 8 problems
whatever the batch, so (b) makes as many generator calls as (a) and saves only the
per-step overhead of the optimiser. On a GPU (no lanes) (b) makes one call per
evaluation instead of one per m.

    nice python bench/cross_config.py --steps 2
    python bench/cross_config.py --device cuda --steps 25 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gs.operator_group import OperatorGroup  # noqa: E402
from gs.operators import GaussianCS  # noqa: E402
from gs.recovery import recover  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load(device: torch.device, weights: str, n: int):
    """The zoo generator (or a random DCGAN) and ``n`` offline test faces (or samples)."""
    from gs.models.dcgan import DCGAN

    try:
        from gs import zoo

        g = zoo.load(weights, device=device).eval()
    except Exception as e:  # noqa: BLE001 - fall back to a random DCGAN
        print(f"[bench] could not load {weights!r} ({e}); using a random-weight DCGAN")
        torch.manual_seed(0)
        g, weights = DCGAN().to(device).eval(), "random"
    try:
        from gs import data

        x = data.load_offline("faces", "test", size=64, limit=n).images[:n]
        if x.shape[0] == n:
            return g, weights, x.to(device), "offline faces (test)"
    except Exception as e:  # noqa: BLE001 - fall back to generator samples
        print(f"[bench] no offline faces ({e}); using DCGAN samples")
    rng = torch.Generator().manual_seed(123)
    with torch.no_grad():
        z = tuple(t.to(device) for t in g.sample_latents(n, 0, generator=rng, device="cpu"))
        return g, weights, g(z, cut=0).clamp(0, 1), "DCGAN samples (clamped)"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ms", type=int, nargs="+", default=[300, 1000, 3000])
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--restarts", type=int, default=3)
    p.add_argument("--steps", type=int, default=2, help="L-BFGS outer steps (paper: 25)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--cut", type=int, default=1)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--weights", default="dcgan64-digiface", help="zoo name or 'random'")
    p.add_argument("--repeats", type=int, default=1,
                   help="time both ways this many times, alternating their order; keep the best")
    p.add_argument("--json", type=Path, default=None, help="write the numbers here")
    a = p.parse_args(argv)

    if a.threads is not None:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    g, weights, x, source = load(device, a.weights, a.images)
    B, R, M = x.shape[0], a.restarts, len(a.ms)
    ops, ys, inits = [], [], []
    for m in a.ms:
        rng = torch.Generator().manual_seed(m)
        op = GaussianCS((3, 64, 64), m, generator=rng, device=device)
        ops.append(op)
        ys.append(op.measure(x, generator=rng))
        inits.append(tuple(t.reshape(B, R, *t.shape[1:]).to(device)
                           for t in g.sample_latents(B * R, a.cut, generator=rng, device="cpu")))
    kw = dict(restarts=R, steps=a.steps, lr=a.lr)
    res = {"device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
           "threads": torch.get_num_threads(), "weights": weights, "images": source,
           "B": B, "R": R, "ms": a.ms, "cut": a.cut, "steps": a.steps,
           "problems": B * R * M}
    print(json.dumps(res))

    recover(g, ops[0], ys[0][:1], a.cut, restarts=1, steps=1,  # warm-up
            optimizer_options={"max_iter": 2})

    owner = [k for k in range(M) for _ in range(B)]
    group = OperatorGroup(ops, owner)
    y_all = group.pad([y[b] for y in ys for b in range(B)])
    init_all = tuple(torch.cat(parts) for parts in zip(*inits, strict=True))

    def run_per_m():
        return [recover(g, op, y, a.cut, init_latents=init, x_true=x, **kw)
                for op, y, init in zip(ops, ys, inits, strict=True)]

    def run_across():
        return recover(g, group, y_all, a.cut, init_latents=init_all,
                       x_true=x.repeat(M, 1, 1, 1), **kw)

    times: dict[str, list[float]] = {"per_m": [], "cross_config": []}
    for rep in range(a.repeats):  # alternate the order: a loaded machine drifts
        order = ("per_m", "cross_config") if rep % 2 == 0 else ("cross_config", "per_m")
        for which in order:
            sync(device)
            t0 = time.perf_counter()
            out = run_per_m() if which == "per_m" else run_across()
            sync(device)
            times[which].append(time.perf_counter() - t0)
            if which == "per_m":
                per_m = out
            else:
                across = out
    res["per_m_s"], res["cross_config_s"] = min(times["per_m"]), min(times["cross_config"])
    res["times_s"] = times
    res["speedup"] = res["per_m_s"] / res["cross_config_s"]
    res["per_m_batched_evals"] = sum(r.n_evals for r in per_m)
    res["cross_config_batched_evals"] = across.n_evals
    print(f"per m      : {res['per_m_s']:8.1f} s   ({M} recoveries of {B * R} problems, "
          f"{res['per_m_batched_evals']} batched evaluations in all)")
    print(f"across m   : {res['cross_config_s']:8.1f} s   (one recovery of {B * R * M} "
          f"problems, {across.n_evals} batched evaluations)   speed-up {res['speedup']:.2f}x"
          + (f"   (best of {a.repeats}; all: {times})" if a.repeats > 1 else ""))

    images = torch.cat([r.images for r in per_m])
    res["identical"] = bool(torch.equal(images, across.images))
    res["max_abs_diff"] = float((images - across.images).abs().max())
    for k, m in enumerate(a.ms):
        res[f"psnr_m{m}"] = float(across.psnr[k * B:(k + 1) * B].mean())
    print(f"results    : {'bit-identical' if res['identical'] else 'differ'} "
          f"(max |diff| {res['max_abs_diff']:.3g}); mean PSNR by m: "
          + ", ".join(f"{m}: {res[f'psnr_m{m}']:.2f} dB" for m in a.ms))
    if a.json is not None:
        a.json.write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
