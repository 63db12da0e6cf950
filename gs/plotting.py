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

from gs.paths import FIGURES_DIR  # noqa: E402
from gs.sweep.methods import series_color as METHOD_SERIES_COLOR  # noqa: E402
from gs.sweep.methods import series_label, series_name  # noqa: E402

STYLES = {
    # width of one panel in inches, font scale, dpi of the PNG
    "paper": {"panel": 2.4, "context": "paper", "font_scale": 1.0, "dpi": 200},
    "talk": {"panel": 4.0, "context": "talk", "font_scale": 1.0, "dpi": 150},
}

# Labels and colours of methods come from their specs (gs.sweep.methods); figures and
# notebooks refer to methods and series by name ("surgery", "no_surgery", "lasso_dct").
# One colour per image set (cut-selection and supplement figures).
SET_COLORS = {"faces": "#c0392b", "celeba": "#c0392b", "scenes": "#2980b9", "coco": "#2980b9",
              "synthetic": "#7f8c8d"}

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
    path = Path(out_dir) if out_dir else FIGURES_DIR / profile
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
        # no creation date in the PDF: a rerun with the same numbers gives the same bytes
        meta = {"CreationDate": None} if ext == "pdf" else None
        fig.savefig(tmp, dpi=dpi, format=ext, metadata=meta)
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


# ------------------------------------------------------------------ result plots
def series_color(series: str) -> str:
    """The house colour of a series: a method name (or ``"no_surgery"``) or an image set."""
    return METHOD_SERIES_COLOR(series, SET_COLORS.get(series, "#333333"))


def label_series(frame: pd.DataFrame) -> pd.DataFrame:
    """Add a ``series`` column of names: ``"no_surgery"`` for surgery at cut 0, else the
    method's name (:func:`gs.sweep.series_name`). Figures show their labels."""
    out = frame.copy()
    out["series"] = [series_name(m, c) for m, c in zip(out["method"], out["cut"], strict=True)]
    return out


def psnr_vs_ratio(
    frame: pd.DataFrame,
    *,
    facet: str = "family",
    series: str = "series",
    x: str = "ratio",
    y: str = "psnr",
    title: str | None = None,
    ylim: tuple[float, float] | None = None,
    palette: dict[str, str] | None = None,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Mean +- SD of ``y`` against ``x``, one panel per ``facet``, one line per ``series``.

    ``palette`` maps series labels to colours (default: the house colour of each label,
    :func:`series_color`). Returns the figure and the summary table (facet, series, x,
    mean, sd, n) it shows.
    """
    for col in (facet, series, x, y):
        if col not in frame.columns:
            raise KeyError(f"psnr_vs_ratio needs a {col!r} column; have {list(frame.columns)}")
    summary = (
        frame.groupby([facet, series, x])[y]
        .agg(mean="mean", sd="std", n="count")
        .reset_index()
        .fillna({"sd": 0.0})
    )
    facets = list(dict.fromkeys(frame[facet]))
    fig, axes = subplots(1, len(facets), sharey=True)
    for ax, f in zip(axes[0], facets, strict=True):
        part = summary[summary[facet] == f]
        for label, s in part.groupby(series, sort=False):
            s = s.sort_values(x)
            color = (palette or {}).get(str(label)) or series_color(str(label))
            ax.plot(s[x], s["mean"], marker="o", ms=3, lw=1.4, label=series_label(str(label)),
                    color=color)
            ax.fill_between(s[x], s["mean"] - s["sd"], s["mean"] + s["sd"], alpha=0.18,
                            color=color, lw=0)
        ax.set_title(str(f).upper() if len(str(f)) <= 5 else str(f))
        ax.set_xlabel({"ratio": "undersampling ratio m/n", "cut": "cut index c"}.get(x, x))
        ax.grid(alpha=0.3)
        if ylim:
            ax.set_ylim(*ylim)
    axes[0][0].set_ylabel("PSNR (dB)" if y == "psnr" else y)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _legend_below(fig, [entry for ax in axes[0]
                        for entry in zip(*ax.get_legend_handles_labels(), strict=True)])
    return fig, summary


def _legend_below(fig: plt.Figure, entries: Sequence[tuple]) -> None:
    """One figure legend below the panels from ``(handle, label)`` pairs, the first handle
    of each label. Call after ``tight_layout`` (which ignores figure legends), so that a
    legend of several rows never covers the panels or their x labels."""
    handles: dict[str, object] = {}
    for handle, label in entries:
        handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="upper center",
                   ncol=min(len(handles), 4), bbox_to_anchor=(0.5, 0.0), frameon=False)


def box_by(
    frame: pd.DataFrame, *, x: str, hue: str, y: str = "psnr", title: str | None = None,
    col: str | None = None, palette: dict[str, str] | None = None, rotation: float = 0,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Box plots of ``y`` per ``x`` and ``hue`` (optionally one panel per ``col``).

    ``palette`` maps hue values to colours (default: :func:`series_color` of each); hue
    values that are series names are shown by their labels;
    ``rotation`` turns the x tick labels (degrees, e.g. 30 for long labels)."""
    cols = list(dict.fromkeys(frame[col])) if col else [None]
    names = list(dict.fromkeys(frame[hue]))
    colors = {str(h): (palette or {}).get(str(h)) or series_color(str(h)) for h in names}
    # draw with display labels (method names become their labels); the summary keeps names
    keys = [k for k in (col, x, hue) if k]
    summary = frame.groupby(keys)[y].agg(mean="mean", sd="std", n="count").reset_index()
    frame = frame.assign(**{hue: [series_label(str(h)) for h in frame[hue]]})
    hue_order = [series_label(str(h)) for h in names]
    palette = {series_label(h): c for h, c in colors.items()}
    dark = {h: tuple(0.6 * v for v in matplotlib.colors.to_rgb(c)) for h, c in palette.items()}
    # each panel wide enough for its boxes (x categories x hues)
    panel = STYLES[_current["style"]]["panel"]
    n_x = max((frame if c is None else frame[frame[col] == c])[x].nunique() for c in cols)
    width = max(panel, 0.28 * n_x * len(hue_order) + 0.7)
    fig, axes = plt.subplots(1, len(cols), sharey=True, squeeze=False,
                             figsize=(width * len(cols), panel))
    entries: list[tuple] = []
    for ax, c in zip(axes[0], cols, strict=True):
        part = frame if c is None else frame[frame[col] == c]
        sns.boxplot(data=part, x=x, y=y, hue=hue, hue_order=hue_order, palette=palette,
                    ax=ax, showfliers=False, linewidth=0.8)
        # a box only a few points tall shows its edges alone: edge each box in a darker
        # shade of its own colour, and show every value as a point on top
        for patch in ax.patches:
            patch.set_edgecolor(tuple(0.6 * v for v in patch.get_facecolor()[:3]))
        # seaborn jitters with numpy's global generator: seed it for this call only, so a
        # rerun with the same numbers draws the same figure
        state = np.random.get_state()
        np.random.seed(0)
        try:
            sns.stripplot(data=part, x=x, y=y, hue=hue, hue_order=hue_order, palette=dark,
                          ax=ax, dodge=True, size=2.5, jitter=0.1, legend=False)
        finally:
            np.random.set_state(state)
        ax.set_xlabel("")
        ax.grid(axis="y", alpha=0.3)
        if rotation:
            ax.tick_params(axis="x", labelrotation=rotation)
            for label in ax.get_xticklabels():
                label.set_horizontalalignment("right")
                label.set_rotation_mode("anchor")
        if c is not None:
            ax.set_title(str(c))
        if ax.get_legend():
            entries += zip(*ax.get_legend_handles_labels(), strict=True)
            ax.get_legend().remove()
    axes[0][0].set_ylabel("PSNR (dB)" if y == "psnr" else y)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _legend_below(fig, entries)
    return fig, summary


def bar_by(
    frame: pd.DataFrame, *, x: str, hue: str, y: str, log: bool = False,
    title: str | None = None, ylabel: str | None = None,
    palette: dict[str, str] | None = None,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Grouped bars of ``y`` per ``x`` and ``hue`` (one value per pair; ``log``: log axis).

    Returns the figure and the table (x, hue, y) it shows, e.g. the number of optimised
    parameters per method (x) and model (hue).
    """
    table = frame[[x, hue, y]].dropna().reset_index(drop=True)
    table[y] = pd.to_numeric(table[y])
    xs = list(dict.fromkeys(table[x]))
    hues = list(dict.fromkeys(table[hue]))
    panel = STYLES[_current["style"]]["panel"]
    fig, ax = plt.subplots(figsize=(max(panel, 0.25 * len(xs) * (len(hues) + 1) + 0.6),
                                    panel * 0.85))
    colors = sns.color_palette("colorblind", len(hues))
    pal = {h: (palette or {}).get(str(h)) or colors[i] for i, h in enumerate(hues)}
    sns.barplot(data=table, x=x, y=y, hue=hue, order=xs, hue_order=hues, palette=pal, ax=ax)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("")
    ax.set_ylabel(ylabel or y)
    ax.grid(axis="y", alpha=0.3)
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title=None)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig, table
