"""Image figures: generator samples at every cut (01) and the qualitative grids (05)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from gs import plotting, sweep
from gs.figures.common import Drawn, Source, budget_note, cuts_of
from gs.figures.curves import PAPER_FORMATS, cs_tasks
from gs.profiles import Profile

#: The columns of a qualitative grid after the original, by series name.
QUALITATIVE_SERIES = ("lasso_dct", "no_surgery", "surgery")


def samples(cfg: Profile, cuts: Sequence[int] | None = None, n_samples: int | None = None, *,
            device: str = "cpu", out_dir: Path | None = None,
            formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``01_samples_<family>``: each model fed clamped-normal inputs at cut ``c`` (rows;
    default cuts 0-4), seed ``j`` (columns). Drawn from the generators (a forward pass
    each, no recovery)."""
    from gs import zoo
    from gs.samples import sample_statistics, samples_at_cuts

    seeds = list(range(n_samples or cfg.n_samples))
    out = Drawn()
    for family, entry in cfg.models.items():
        g = zoo.load(entry, device=device)
        rows = list(cuts) if cuts is not None else [c for c in range(5) if c in g.valid_cuts]
        grid = samples_at_cuts(g, rows, seeds)
        fig = plotting.image_grid(grid, row_labels=[f"cut {c}\n{g.latent_dim(c)} dims"
                                                    for c in rows],
                                  col_labels=[f"seed {s}" for s in seeds])
        plotting.titled(fig, f"{entry}: samples at every cut (n = {len(seeds)} seeds)",
                        above=True)
        table = sample_statistics(grid, rows, seeds, model=entry)
        out.frames[f"01_samples_{family}"] = table
        out.save(f"01_samples_{family}", fig, table, out_dir, formats)
    return out


def qualitative(source: Source, cfg: Profile, families: Sequence[str] | None = None,
                ratio: float | None = None, n_show: int = 4, *, out_dir: Path | None = None,
                formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``05_qualitative_<family>_<set>``: Original / Lasso-DCT / No Surgery / With Surgery
    for the first ``n_show`` test images (not the best), with each image's PSNR, at
    ``ratio`` (default ``cfg.show_ratio``). The same tasks and images as 03's figure."""
    families = list(families or cfg.models)
    ratio = ratio or cfg.show_ratio
    cuts = cuts_of(source, cfg, families)
    out = Drawn(cuts=cuts)
    labels = ["Original"] + [sweep.series_label(c) for c in QUALITATIVE_SERIES]
    for family in families:
        for image_set in (cfg.in_dist, cfg.ood):
            tasks = cs_tasks(cfg, cuts, [family], [image_set], [ratio], n_images=n_show)
            stored = source.fetch(tasks, keep_images=True)
            psnr = dict(zip(stored.key, stored.psnr, strict=True))
            images = source.images(stored.key)
            size = tasks[0].image_size
            names = list(dict.fromkeys(t.image for t in tasks))
            truth = source.truth(image_set, "test", size, names)
            grid = torch.zeros(len(names), 1 + len(QUALITATIVE_SERIES), *truth.shape[1:])
            grid[:, 0] = truth
            captions = [[""] * grid.shape[1] for _ in names]
            records = []
            for t in tasks:
                series = sweep.series_name(t.method, t.cut)
                i, j = names.index(t.image), 1 + QUALITATIVE_SERIES.index(series)
                grid[i, j] = images[t.key].clamp(0, 1)
                captions[i][j] = f"{psnr[t.key]:.1f} dB"
                records.append({"family": family, "image_set": image_set, "image": t.image,
                                "method": series, "cut": t.cut, "m": t.m,
                                "ratio": t.m / truth[0].numel(), "psnr": psnr[t.key],
                                "key": t.key, "cut_provenance": cuts[family].describe()})
            fig = plotting.image_grid(grid, row_labels=names, col_labels=labels,
                                      captions=captions)
            plotting.titled(fig, f"{family.upper()} (cut {cuts[family].cut}), {image_set}, "
                                 f"m/n = {ratio:.3f}, first {len(names)} test images",
                            budget_note(stored[stored.method == "surgery"]), above=True)
            name = f"05_qualitative_{family}_{image_set}"
            table = pd.DataFrame(records)
            out.frames[name] = table
            out.save(name, fig, table, out_dir, formats)
    return out


def trained_samples(cfg: Profile, n: int = 64, *, device: str = "cpu",
                    out_dir: Path | None = None, formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``train_<zoo entry>``: ``n`` samples of each of the profile's models that this
    project trained (``gs.train``), from seeds ``0..n-1`` at cut 0, with the weights'
    sha256 and training run in the title; the CSV lists each sample's statistics."""
    from gs import zoo
    from gs.samples import generator_samples

    out = Drawn()
    cols = int(n**0.5)
    for entry in cfg.models.values():
        info = zoo.get(entry)
        if not info.source.startswith("trained by gs.train"):
            continue
        g = zoo.load(entry, device=device)
        images = generator_samples(g, n, seed=0)
        rows = -(-n // cols)
        grid = torch.ones(rows * cols, *images.shape[1:])
        grid[:n] = images
        fig = plotting.image_grid(grid.reshape(rows, cols, *images.shape[1:]))
        plotting.titled(fig, f"{entry}: {n} samples after training",
                        f"seeds 0-{n - 1} at cut 0; weights sha256 {info.sha256[:12]}; "
                        f"{info.training.split('(')[0].strip()}", above=True)
        flat = images.flatten(1)
        table = pd.DataFrame({"model": entry, "seed": range(n), "mean": flat.mean(1).numpy(),
                              "std": flat.std(1).numpy(), "sha256": info.sha256})
        out.frames[f"train_{entry}"] = table
        out.save(f"train_{entry}", fig, table, out_dir, formats)
    return out
