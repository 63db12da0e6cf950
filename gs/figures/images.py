"""Image figures: generator samples at every cut (01), samples of the generators trained
here (``train``) and the qualitative grids (05).

The sample figures are drawn from :class:`gs.samples.SampleSheet` s: made by the generators
(:func:`sample_sheet`) when a notebook draws them, read from the profile's shipped
``samples.npz`` (:func:`gs.results.read_samples`) when the figure command redraws them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from gs import plotting, sweep
from gs.figures.common import Drawn, MissingResults, Source, budget_note, cuts_of, sets_of
from gs.figures.curves import PAPER_FORMATS, cs_tasks
from gs.profiles import Profile
from gs.samples import SampleSheet

#: The columns of a qualitative grid after the original, by series name.
QUALITATIVE_SERIES = ("lasso_dct", "no_surgery", "surgery")


def sample_sheet(kind: str, entry: str, cuts: Sequence[int] | None = None,
                 seeds: Sequence[int] = range(8), device: str = "cpu") -> SampleSheet:
    """Samples of zoo entry ``entry`` drawn from the generator, as figure ``kind`` shows
    them (a forward pass per sample): ``"01"``, the samples at ``cuts`` (default 0-4) x
    ``seeds`` with :func:`gs.samples.sample_statistics` of the unclamped output; ``"train"``,
    the samples of the uncut generator (:func:`gs.samples.generator_samples`) with each
    one's mean and SD. Pixels are rounded to 8 bits, as :func:`gs.results.write_samples`
    keeps them, so the figure drawn here equals the one redrawn from the archive."""
    from gs import zoo
    from gs.samples import quantise, sample_statistics, samples_at_cuts

    g = zoo.load(entry, device=device)
    seeds = [int(s) for s in seeds]
    if kind == "01":
        cuts = list(cuts) if cuts is not None else [c for c in range(5) if c in g.valid_cuts]
        grid = samples_at_cuts(g, cuts, seeds)
        stats = sample_statistics(grid, cuts, seeds, model=entry)
        info = {"latent_dims": [int(g.latent_dim(c)) for c in cuts]}
    elif kind == "train":
        cuts = [0]
        grid = samples_at_cuts(g, cuts, seeds).clamp(0, 1)
        flat = grid[0].flatten(1)
        meta = zoo.get(entry)
        stats = pd.DataFrame({"model": entry, "seed": seeds, "mean": flat.mean(1).numpy(),
                              "std": flat.std(1).numpy(), "sha256": meta.sha256})
        info = {"sha256": meta.sha256, "training": meta.training}
    else:
        raise ValueError(f"unknown kind of sample sheet {kind!r}; choose '01' or 'train'")
    return SampleSheet(kind, entry, cuts, seeds, quantise(grid), stats, info)


def _sheet(source: Source | None, kind: str, entry: str, cuts, seeds, device) -> SampleSheet:
    """From ``source``'s archive when it has one (never a generator), else drawn live."""
    if source is None or source.samples is None:
        return sample_sheet(kind, entry, cuts, seeds, device)
    sheet = source.samples(kind, entry)
    try:
        return sheet.select(sheet.cuts if cuts is None else cuts, seeds)
    except KeyError as exc:
        raise MissingResults(f"{exc.args[0]} in {source.samples_path}") from None


def trained_entries(cfg: Profile) -> list[str]:
    """The profile's zoo entries that this project trained (``gs.train``)."""
    from gs import zoo

    return [e for e in cfg.models.values()
            if zoo.get(e).source.startswith("trained by gs.train")]


def samples(cfg: Profile, cuts: Sequence[int] | None = None, n_samples: int | None = None, *,
            source: Source | None = None, device: str = "cpu", out_dir: Path | None = None,
            formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``01_samples_<family>``: each model fed clamped-normal inputs at cut ``c`` (rows;
    default cuts 0-4), seed ``j`` (columns). Drawn from the generators (a forward pass
    each, no recovery), or, when ``source`` has a samples archive (the figure command's
    :func:`table_source`), from the samples kept there without touching a generator."""
    seeds = list(range(n_samples or cfg.n_samples))
    out = Drawn()
    for family, entry in cfg.models.items():
        sheet = _sheet(source, "01", entry, cuts, seeds, device)
        dims = dict(zip(sheet.cuts, sheet.info["latent_dims"], strict=True))
        fig = plotting.image_grid(sheet.pixels, row_labels=[f"cut {c}\n{dims[c]} dims"
                                                            for c in sheet.cuts],
                                  col_labels=[f"seed {s}" for s in seeds])
        plotting.titled(fig, f"{entry}: samples at every cut (n = {len(seeds)} seeds)",
                        above=True)
        out.frames[f"01_samples_{family}"] = sheet.stats
        out.save(f"01_samples_{family}", fig, sheet.stats, out_dir, formats)
    return out


#: Test images per model and set in the qualitative figure (05's ``n_show``).
N_SHOW = 4


def qualitative_tasks(cfg: Profile, cuts: dict[str, sweep.CutChoice], families: Sequence[str],
                      image_sets: Sequence[str] | None = None, ratio: float | None = None,
                      n_show: int = N_SHOW) -> list[sweep.Task]:
    """05's grid: 03's tasks for the first ``n_show`` test images at ``ratio`` (default
    ``cfg.show_ratio``)."""
    return cs_tasks(cfg, cuts, families, sets_of(cfg, image_sets), [ratio or cfg.show_ratio],
                    n_images=n_show)


def qualitative(source: Source, cfg: Profile, families: Sequence[str] | None = None,
                ratio: float | None = None, n_show: int = N_SHOW,
                image_sets: Sequence[str] | None = None, *, out_dir: Path | None = None,
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
        for image_set in sets_of(cfg, image_sets):
            tasks = qualitative_tasks(cfg, cuts, [family], [image_set], ratio, n_show)
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


def trained_samples(cfg: Profile, n: int = 64, *, source: Source | None = None,
                    device: str = "cpu", out_dir: Path | None = None,
                    formats: Sequence[str] = PAPER_FORMATS) -> Drawn:
    """``train_<zoo entry>``: ``n`` samples of each of the profile's models that this
    project trained (``gs.train``), from seeds ``0..n-1`` at cut 0, with the weights'
    sha256 and training run in the title; the CSV lists each sample's statistics. From the
    generators, or from ``source``'s samples archive as :func:`samples`."""
    out = Drawn()
    cols = int(n**0.5)
    for entry in trained_entries(cfg):
        sheet = _sheet(source, "train", entry, None, range(n), device)
        images = sheet.pixels[0]
        rows = -(-n // cols)
        grid = torch.ones(rows * cols, *images.shape[1:])
        grid[:n] = images
        fig = plotting.image_grid(grid.reshape(rows, cols, *images.shape[1:]))
        plotting.titled(fig, f"{entry}: {n} samples after training",
                        f"seeds 0-{n - 1} at cut 0; weights sha256 {sheet.info['sha256'][:12]}; "
                        f"{sheet.info['training'].split('(')[0].strip()}", above=True)
        out.frames[f"train_{entry}"] = sheet.stats
        out.save(f"train_{entry}", fig, sheet.stats, out_dir, formats)
    return out


def shipped_sheets(cfg: Profile, device: str = "cpu", n_train: int = 64) -> list[SampleSheet]:
    """The sample sheets the figure command redraws 01 and ``train`` from, with their
    default parameters (what :func:`gs.results.export` writes into ``samples.npz``)."""
    seeds = range(cfg.n_samples)
    return ([sample_sheet("01", e, None, seeds, device) for e in cfg.models.values()]
            + [sample_sheet("train", e, None, range(n_train), device)
               for e in trained_entries(cfg)])
