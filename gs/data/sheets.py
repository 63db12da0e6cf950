"""Contact sheets: labelled grids of images, saved as PNG + PDF + CSV.

``python -m gs.data contact-sheet`` draws both offline sets and splits
(:func:`data_contact_sheet`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from gs.data.images import OFFLINE_KINDS, SPLITS
from gs.data.offline import OFFLINE_SIZE, load_offline
from gs.paths import FIGURES_DIR


def contact_sheet(
    images: torch.Tensor | Sequence[torch.Tensor], names: Sequence[str], path: str | Path,
    ncols: int = 10, groups: Sequence[str] | None = None, title: str | None = None,
) -> list[Path]:
    """Write a labelled grid of ``images`` ((N, 3, H, W) in [0, 1]) as ``path`` .png/.pdf/.csv.

    ``groups[i]`` (optional) names the group of image i; each group starts a new row block
    with its own heading. The CSV lists what is shown (group, position, name).
    """
    import matplotlib

    if not os.environ.get("DISPLAY"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from gs import plotting

    imgs = list(images)
    if len(imgs) != len(names):
        raise ValueError(f"{len(names)} names for {len(imgs)} images")
    groups = list(groups) if groups is not None else [""] * len(imgs)
    order: list[str] = list(dict.fromkeys(groups))
    members = {g: [i for i, gi in enumerate(groups) if gi == g] for g in order}
    rows = {g: -(-len(members[g]) // ncols) for g in order}
    # about one image pixel per figure pixel at the house PNG dpi
    cell = imgs[0].shape[-1] / plotting.STYLES["paper"]["dpi"] if imgs else 1.0
    head = 0.25  # inches for a group heading
    heights = [cell * 1.18 * rows[g] + head for g in order]
    fig = plt.figure(figsize=(cell * 1.04 * ncols, sum(heights)))
    subfigs = fig.subfigures(len(order), 1, height_ratios=heights, squeeze=False)
    records = []
    for sf, g, h in zip(subfigs[:, 0], order, heights, strict=True):
        axes = sf.subplots(rows[g], ncols, squeeze=False)
        sf.subplots_adjust(left=0.005, right=0.995, bottom=0.0, top=1 - head / h,
                           wspace=0.04, hspace=0.18)
        for k, ax in enumerate(axes.flat):
            ax.set_axis_off()
            if k < len(members[g]):
                i = members[g][k]
                ax.imshow(plotting.to_numpy_image(imgs[i]), interpolation="nearest")
                ax.set_title(names[i], fontsize=4, pad=1.5)
                records.append({"group": g, "position": k, "name": names[i]})
        if g:
            sf.suptitle(f"{g} ({len(members[g])})", fontsize=7, x=0.005, ha="left",
                        y=1 - 0.02 / h, va="top")
    if title:
        fig.suptitle(title, fontsize=10)
    out = Path(path)
    paths = plotting.save_figure(fig, out.stem, out.parent, pd.DataFrame(records))
    plt.close(fig)
    return paths


def data_contact_sheet(out_dir: str | Path | None = None, size: int = OFFLINE_SIZE) -> list[Path]:
    """Contact sheet of both offline sets and splits: ``figures/offline/data_contact_sheet.*``."""
    out_dir = Path(out_dir) if out_dir is not None else FIGURES_DIR / "offline"
    images, names, groups = [], [], []
    for kind in OFFLINE_KINDS:
        for split in SPLITS:
            s = load_offline(kind, split, size)
            images += list(s.images)
            names += s.names
            groups += [f"{kind} / {split}"] * len(s)
    return contact_sheet(images, names, out_dir / "data_contact_sheet", groups=groups)
