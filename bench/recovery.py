"""Benchmark: the batched recovery engine against the authors' sequential loop.

The same CSGM recovery (DCGAN-64, cut 1, dense Gaussian CS with m = 1000 and the paper's
noise, 16 images x 3 restarts, L-BFGS lr 0.1 for ``--steps`` outer steps) is run

(a) the authors' way: ``torch.optim.LBFGS`` at batch 1, one image and one restart after
    another, with the same A, the same y and the same initial latents; and
(b) by :func:`gs.recovery.recover`, all 48 problems in one batched optimisation.

It prints the wall time of both, the speed-up, the mean PSNR both ways (the iterates are
the same up to floating-point reassociation) and, on a GPU, the peak memory.

Options: ``--compare-structured`` also recovers the same images with the structured
operator (``cs_fast``) and reports its PSNR next to the dense one's; ``--mem128`` compares
the memory of a dense and a structured operator at 128 px, m = 24000.

    nice python bench/recovery.py --steps 2            # a fraction of the paper's budget
    python bench/recovery.py --device cuda --steps 25  # the full budget on a GPU
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gs.flops import evaluation_flops, matmul_peak  # noqa: E402
from gs.metrics import psnr  # noqa: E402
from gs.models.dcgan import DCGAN  # noqa: E402
from gs.operators import GaussianCS, StructuredCS, make_operator  # noqa: E402
from gs.recovery import frozen, measurement_mse, recover  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_generator(device: torch.device, weights: str) -> tuple[DCGAN, str]:
    if weights != "random":
        try:
            from gs import zoo

            return zoo.load(weights, device=device).eval(), weights
        except Exception as e:  # noqa: BLE001 - fall back to a random DCGAN
            print(f"[bench] could not load {weights!r} ({e}); using a random-weight DCGAN")
    torch.manual_seed(0)
    return DCGAN().to(device).eval(), "random"


def load_images(g: DCGAN, n: int, device: torch.device, source: str) -> tuple[torch.Tensor, str]:
    if source == "faces":
        try:
            from gs import data

            x = data.load_offline("faces", "test", size=64, limit=n).images
            if x.shape[0] >= n:
                return x[:n].to(device), "offline faces (test)"
        except Exception as e:  # noqa: BLE001 - fall back to generator samples
            print(f"[bench] no offline faces ({e}); using DCGAN samples")
    rng = torch.Generator().manual_seed(123)
    with torch.no_grad():
        z = tuple(t.to(device) for t in g.sample_latents(n, 0, generator=rng, device="cpu"))
        return g(z, cut=0).clamp(0, 1), "DCGAN samples (clamped)"


def sequential(g, op, y, cut, init, steps, lr, device):
    """The authors' loop: torch.optim.LBFGS at batch 1, restarts one after another."""
    B, R = init[0].shape[:2]
    images = torch.empty(B, R, *op.image_shape, device=device, dtype=y.dtype)
    losses = torch.empty(B, R, dtype=torch.float64)
    with frozen(g):
        for b in range(B):
            for r in range(R):
                z = [t[b, r].unsqueeze(0).clone().requires_grad_(True) for t in init]
                opt = torch.optim.LBFGS(z, lr=lr)

                def closure(z=z, b=b, opt=opt):
                    opt.zero_grad()
                    loss = measurement_mse(op.A(g(tuple(z), cut=cut)), y[b : b + 1]).sum()
                    loss.backward()
                    return loss

                for _ in range(steps):
                    opt.step(closure)
                with torch.no_grad():
                    x = g(tuple(z), cut=cut)
                    images[b, r] = x[0]
                    losses[b, r] = float(measurement_mse(op.A(x.clamp(0, 1)), y[b : b + 1]))
    best = losses.argmin(1)
    return images[torch.arange(B), best.to(device)], losses, best


def peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def mem128(device: torch.device, m: int = 24000) -> dict:
    """Memory of the dense and the structured operator at 128 px (dense is not built)."""
    shape = (3, 128, 128)
    n = math.prod(shape)
    reset_peak(device)
    op = StructuredCS(shape, m, generator=torch.Generator().manual_seed(0), device=device)
    x = torch.rand(16, *shape, generator=torch.Generator().manual_seed(1)).to(device)
    sync(device)
    t0 = time.perf_counter()
    y = op.measure(x, generator=torch.Generator().manual_seed(2))
    back = op.A_adjoint(y)
    sync(device)
    dt = time.perf_counter() - t0
    buf = sum(b.numel() * b.element_size() for b in op.buffers())
    out = {
        "n": n,
        "m": m,
        "dense_matrix_bytes_per_operator": 4 * n * m,
        "structured_buffer_bytes": buf,
        "structured_A_and_adjoint_16_images_s": round(dt, 4),
        "energy_ratio_mean": float(
            op.A(x).pow(2).sum(1).mean() / x.pow(2).flatten(1).sum(1).mean()
        ),
    }
    if device.type == "cuda":
        out["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    del back
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=25, help="L-BFGS outer steps (paper: 25)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--images", type=int, default=16)
    p.add_argument("--restarts", type=int, default=3)
    p.add_argument("--m", type=int, default=1000)
    p.add_argument("--cut", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    p.add_argument("--weights", default="dcgan64-digiface", help="zoo name or 'random'")
    p.add_argument("--data", choices=["faces", "samples"], default="faces")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--skip-sequential", action="store_true")
    p.add_argument("--sequential-images", type=int, default=None, metavar="K",
                   help="time the sequential loop on the first K images only and scale it "
                        "to all of them (the 25-step comparison in minutes, not hours)")
    p.add_argument("--lane-width", default="auto",
                   type=lambda v: v if v == "auto" else None if v == "none" else int(v),
                   help="problems per generator call: auto (8 on the CPU), none, or an int")
    p.add_argument("--compare-lanes", action="store_true",
                   help="also time the engine with/without fixed-width lanes")
    p.add_argument("--compare-structured", action="store_true")
    p.add_argument("--mem128", action="store_true")
    p.add_argument("--json", type=Path, default=None, help="write the numbers here")
    a = p.parse_args(argv)

    if a.threads is not None:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    g, weights = load_generator(device, a.weights)
    x, source = load_images(g, a.images, device, a.data)
    dtype = getattr(torch, a.dtype)
    g.latent_shapes(0)  # fill the shape cache before a dtype change
    g, x = g.to(dtype), x.to(dtype)
    B, R = x.shape[0], a.restarts
    rng = torch.Generator().manual_seed(a.seed)
    op = GaussianCS((3, 64, 64), a.m, generator=rng, device=device, dtype=dtype)
    y = op.measure(x, generator=rng)
    init = tuple(
        t.reshape(B, R, *t.shape[1:]).to(device)
        for t in g.sample_latents(B * R, a.cut, generator=rng, device="cpu", dtype=dtype)
    )
    res = {
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "dtype": a.dtype,
        "weights": weights,
        "images": source,
        "B": B,
        "R": R,
        "m": a.m,
        "cut": a.cut,
        "lr": a.lr,
        "steps": a.steps,
        "paper_steps": 25,
    }
    print(json.dumps({k: v for k, v in res.items()}, indent=None))

    # warm-up (allocator, kernels) on a throwaway problem
    recover(g, op, y[:1], a.cut, restarts=1, steps=1, optimizer_options={"max_iter": 2})

    reset_peak(device)
    sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    # keep_best=False: the same iterates as the sequential torch.optim.LBFGS loop
    eng = recover(g, op, y, a.cut, restarts=R, steps=a.steps, lr=a.lr, init_latents=init,
                  x_true=x, keep_best=False, lane_width=a.lane_width)
    sync(device)
    res["engine_s"] = time.perf_counter() - t0
    res["lane_width"] = eng.info["lane_width"]
    res["engine_cpu_s"] = time.process_time() - c0
    res["engine_peak_mb"] = round(peak_mb(device), 1)
    res["engine_psnr_mean"] = float(eng.psnr.mean())
    res["engine_batched_evals"] = eng.n_evals
    res["engine_problem_evals"] = int(eng.problem_evals.sum())
    flops_per_eval = evaluation_flops(g, a.cut, op)
    res["flops_per_eval"] = flops_per_eval
    # useful work: the evaluations each problem needed (the lanes' padding is overhead)
    res["engine_gflops"] = flops_per_eval * res["engine_problem_evals"] / res["engine_s"] / 1e9
    print(
        f"engine     : {res['engine_s']:8.1f} s   mean PSNR {res['engine_psnr_mean']:.3f} dB   "
        f"peak {res['engine_peak_mb']:.0f} MB   evals {eng.n_evals} batched"
    )

    if a.compare_lanes:  # what fixed-width lanes (batch invariance) cost
        other = None if eng.info["lane_width"] is not None else "auto"
        t0 = time.perf_counter()
        alt = recover(g, op, y, a.cut, restarts=R, steps=a.steps, lr=a.lr, init_latents=init,
                      x_true=x, keep_best=False, lane_width=other)
        sync(device)
        alt_s = time.perf_counter() - t0
        lanes_s, whole_s = ((res["engine_s"], alt_s) if other is None
                            else (alt_s, res["engine_s"]))
        res["lanes_s"], res["one_call_s"] = lanes_s, whole_s
        print(f"lanes      : {lanes_s:8.1f} s with lanes of "
              f"{eng.info['lane_width'] or alt.info['lane_width']} problems vs {whole_s:.1f} s "
              f"in one call per evaluation: batch invariance costs "
              f"{100 * (lanes_s / whole_s - 1):+.0f}%")

    if not a.skip_sequential:
        reset_peak(device)
        sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        K = min(a.sequential_images or B, B)
        seq_images, seq_losses, seq_best = sequential(
            g, op, y[:K], a.cut, tuple(t[:K] for t in init), a.steps, a.lr, device)
        sync(device)
        res["sequential_images"] = K
        res["sequential_s"] = (time.perf_counter() - t0) * B / K
        res["sequential_cpu_s"] = (time.process_time() - c0) * B / K
        res["speedup_cpu_time"] = res["sequential_cpu_s"] / res["engine_cpu_s"]
        res["sequential_peak_mb"] = round(peak_mb(device), 1)
        seq_psnr = psnr(seq_images, x[:K])
        res["sequential_psnr_mean"] = float(seq_psnr.mean())
        res["speedup"] = res["sequential_s"] / res["engine_s"]
        res["psnr_max_abs_diff"] = float((seq_psnr - eng.psnr[:K]).abs().max())
        res["same_best_restart"] = int((seq_best == eng.best_restart[:K].cpu()).sum())
        res["restart_loss_max_rel_diff"] = float(
            ((seq_losses - eng.restart_losses[:K].cpu()).abs() / seq_losses).max()
        )
        # the same number of evaluations as the engine's problems needed alone
        seq_flops = flops_per_eval * int(eng.problem_evals.sum())
        res["sequential_gflops"] = seq_flops / res["sequential_s"] / 1e9
        print(
            f"sequential : {res['sequential_s']:8.1f} s   mean PSNR "
            f"{res['sequential_psnr_mean']:.3f} dB   peak {res['sequential_peak_mb']:.0f} MB"
        )
        print(
            f"speed-up {res['speedup']:.2f}x wall, {res['speedup_cpu_time']:.2f}x process CPU; "
            f"per-image |PSNR diff| max "
            f"{res['psnr_max_abs_diff']:.4f} dB; same best restart for "
            f"{res['same_best_restart']}/{K} images"
            + (f" (sequential timed on {K} of {B} images and scaled)" if K < B else "")
        )

    if a.compare_structured:
        fast = make_operator(
            "cs_fast",
            (3, 64, 64),
            m=a.m,
            generator=torch.Generator().manual_seed(a.seed + 1),
            device=device,
            dtype=dtype,
        )
        y_fast = fast.measure(x, generator=torch.Generator().manual_seed(a.seed + 2))
        t0 = time.perf_counter()
        st = recover(
            g, fast, y_fast, a.cut, restarts=R, steps=a.steps, lr=a.lr, init_latents=init, x_true=x
        )
        sync(device)
        res["structured_s"] = time.perf_counter() - t0
        res["structured_psnr_mean"] = float(st.psnr.mean())
        res["structured_minus_dense_psnr_mean"] = float((st.psnr - eng.psnr).mean())
        res["structured_minus_dense_psnr_sd"] = float((st.psnr - eng.psnr).std())
        print(
            f"structured : {res['structured_s']:8.1f} s   mean PSNR "
            f"{res['structured_psnr_mean']:.3f} dB (dense {res['engine_psnr_mean']:.3f} dB; "
            f"paired diff {res['structured_minus_dense_psnr_mean']:+.3f} "
            f"+- {res['structured_minus_dense_psnr_sd']:.3f})"
        )

    if a.mem128:
        res["mem128"] = mem128(device)
        mm = res["mem128"]
        print(
            f"128 px, m={mm['m']}: dense A would be "
            f"{mm['dense_matrix_bytes_per_operator'] / 1e9:.2f}"
            f" GB per operator; structured buffers {mm['structured_buffer_bytes'] / 1e6:.2f} MB"
        )

    # the hardware's limit, measured in the same run
    res["matmul_peak_gflops"] = matmul_peak(device) / 1e9
    peak = res["matmul_peak_gflops"]
    print(f"FLOPs per evaluation (counted from the layers, fwd + bwd to the latents, operator "
          f"included): {res['flops_per_eval'] / 1e9:.3f} GFLOP; float32 matmul peak measured "
          f"now: {peak:.0f} GFLOP/s ({res['threads']} threads)")
    print(f"engine     : {res['engine_gflops']:7.1f} GFLOP/s = "
          f"{100 * res['engine_gflops'] / peak:.0f}% of peak")
    if "sequential_gflops" in res:
        print(f"sequential : {res['sequential_gflops']:7.1f} GFLOP/s = "
              f"{100 * res['sequential_gflops'] / peak:.0f}% of peak")
    if a.json is not None:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
