"""One house style for every figure, in paper and talk sizes, always saved with its numbers.

>>> import pandas as pd
>>> from gs import plotting
>>> plotting.set_style("paper")
>>> fig, ax = plotting.subplots(1, 1)
>>> paths = plotting.save_figure(fig, "demo", "/tmp/gs-doc", pd.DataFrame({"a": [1]}))
>>> sorted(p.suffix for p in paths)
['.csv', '.pdf', '.png']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib

if not os.environ.get("DISPLAY") and "inline" not in matplotlib.get_backend().lower():
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402

from gs.zoo import REPO_ROOT  # noqa: E402

STYLES = {
    # width of one panel in inches, font scale, dpi of the PNG
    "paper": {"panel": 2.4, "context": "paper", "font_scale": 1.0, "dpi": 200},
    "talk": {"panel": 4.0, "context": "talk", "font_scale": 1.0, "dpi": 150},
}

# One colour per method, shared by every figure.
METHOD_COLORS = {
    "surgery": "#c0392b",
    "no_surgery": "#2c3e50",
    "lasso_dct": "#7f8c8d",
    "iagan": "#2980b9",
    "mgan": "#8e44ad",
    "deep_decoder": "#27ae60",
    "reinit": "#e67e22",
}
METHOD_LABELS = {
    "surgery": "With Surgery",
    "no_surgery": "No Surgery",
    "lasso_dct": "Lasso-DCT",
    "iagan": "IAGAN",
    "mgan": "mGANprior",
    "deep_decoder": "Deep Decoder",
    "reinit": "Surgery, re-initialised",
}

_current = {"style": "paper"}


def set_style(style: str = "paper") -> None:
    """Apply the house style (seaborn ticks, colour-blind-safe) at paper or talk size."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {sorted(STYLES)}")
    s = STYLES[style]
    sns.set_theme(context=s["context"], style="ticks", font_scale=s["font_scale"])
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "pdf.fonttype": 42})
    _current["style"] = style


def subplots(nrows: int = 1, ncols: int = 1, aspect: float = 0.85, **kw):
    """``plt.subplots`` sized for the current style: each panel ``panel`` inches wide."""
    w = STYLES[_current["style"]]["panel"]
    kw.setdefault("squeeze", False)
    return plt.subplots(nrows, ncols, figsize=(w * ncols, w * aspect * nrows), **kw)


def figures_dir(profile: str, out_dir: str | Path | None = None) -> Path:
    """``figures/<profile>/`` in the repository unless ``out_dir`` is given."""
    path = Path(out_dir) if out_dir else REPO_ROOT / "figures" / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(
    fig: plt.Figure, name: str, out_dir: str | Path, data: pd.DataFrame
) -> list[Path]:
    """Write ``name.pdf``, ``name.png`` and ``name.csv`` (the numbers shown) into ``out_dir``.

    Files are written under a temporary name and renamed, so a figure is never half-written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if data is None or len(data) == 0:
        raise ValueError(f"figure {name!r}: refusing to save a figure without its numbers")
    dpi = STYLES[_current["style"]]["dpi"]
    paths = []
    for ext in ("pdf", "png"):
        final = out / f"{name}.{ext}"
        tmp = out / f".{name}.tmp.{ext}"
        fig.savefig(tmp, dpi=dpi, format=ext)
        os.replace(tmp, final)
        paths.append(final)
    final = out / f"{name}.csv"
    tmp = out / f".{name}.tmp.csv"
    data.to_csv(tmp, index=False)
    os.replace(tmp, final)
    paths.append(final)
    return paths


def to_numpy_image(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor -> (H, W, 3) array clipped to [0, 1] for ``imshow``."""
    return x.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def image_grid(
    images: torch.Tensor,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    captions: Sequence[Sequence[str]] | None = None,
    cell: float | None = None,
) -> plt.Figure:
    """A grid of images ``(R, C, 3, H, W)`` in [0, 1] with optional labels and captions.

    ``captions[r][c]`` is written under image (r, c) (e.g. its PSNR).
    """
    if images.ndim != 5:
        raise ValueError(f"image_grid wants (rows, cols, 3, H, W), got {tuple(images.shape)}")
    rows, cols = images.shape[:2]
    cell = cell or STYLES[_current["style"]]["panel"] * 0.45
    fig, axes = plt.subplots(
        rows, cols, figsize=(cell * cols, cell * rows * (1.15 if captions else 1.0)),
        squeeze=False,
    )
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(to_numpy_image(images[r, c]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if captions is not None:
                ax.set_xlabel(captions[r][c], fontsize="small", labelpad=2)
            if row_labels is not None and c == 0:
                ax.set_ylabel(row_labels[r], fontsize="small")
            if col_labels is not None and r == 0:
                ax.set_title(col_labels[c], fontsize="small")
    fig.subplots_adjust(wspace=0.04, hspace=0.18 if captions else 0.04)
    return fig
