"""One house style for every figure, in paper and talk sizes, always saved with its numbers.

Two styles (:func:`set_style`):

* ``paper``: single-column (3.4 in) or double-column (7.0 in) wide, 8 pt text;
* ``talk``: 16:9 (13.33 x 7.5 in, 1920 x 1080 px PNG), text, lines and markers scaled for
  a projector.

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
import textwrap
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

from gs.paths import FIGURES_DIR, OUTPUT_DIR  # noqa: E402
from gs.sweep.methods import series_color as METHOD_SERIES_COLOR  # noqa: E402
from gs.sweep.methods import series_label, series_name  # noqa: E402

#: Sizes in inches and points. ``single``/``double``: figure widths; ``height``: height of
#: a row of panels; ``font``: base text size; ``line``, ``marker``, ``point``: line width,
#: line-marker size and size of per-image points; ``dpi`` of the PNG.
STYLES = {
    "paper": {"single": 3.4, "double": 7.0, "height": 2.7, "font": 8, "line": 1.3,
              "marker": 3.5, "point": 2.2, "dpi": 200},
    "talk": {"single": 13.33, "double": 13.33, "height": 7.5, "font": 20, "line": 3.2,
             "marker": 10, "point": 6, "dpi": 144},
}

#: File formats :func:`save_figure` writes (the CSV always comes along).
FORMATS = ("pdf", "png", "svg")

# Labels and colours of methods come from their specs (gs.sweep.methods); figures and
# notebooks refer to methods and series by name ("surgery", "no_surgery", "lasso_dct").
# One colour per image set (cut-selection and supplement figures).
SET_COLORS = {"faces": "#c0392b", "celeba": "#c0392b", "scenes": "#2980b9", "coco": "#2980b9",
              "synthetic": "#7f8c8d"}

_current = {"style": "paper"}


def style() -> dict:
    """The sizes of the current style (a copy of its :data:`STYLES` entry, plus ``name``)."""
    return {"name": _current["style"], **STYLES[_current["style"]]}


def set_style(name: str = "paper") -> None:
    """Apply the house style (seaborn ticks, colour-blind-safe) at paper or talk size."""
    if name not in STYLES:
        raise ValueError(f"unknown style {name!r}; choose one of {sorted(STYLES)}")
    s = STYLES[name]
    f = s["font"]
    sns.set_theme(style="ticks", rc={
        "font.size": f, "axes.titlesize": f * 1.05, "axes.labelsize": f,
        "xtick.labelsize": f * 0.9, "ytick.labelsize": f * 0.9, "legend.fontsize": f * 0.9,
        "figure.titlesize": f * 1.15, "lines.linewidth": s["line"],
        "lines.markersize": s["marker"], "axes.linewidth": s["line"] * 0.5,
        "xtick.major.width": s["line"] * 0.5, "ytick.major.width": s["line"] * 0.5,
        "patch.linewidth": s["line"] * 0.5,
    })
    plt.rcParams.update({"figure.dpi": 100, "savefig.bbox": "tight", "pdf.fonttype": 42,
                         "svg.hashsalt": "gs", "figure.constrained_layout.use": False})
    _current["style"] = name


def figure_size(ncols: int = 1, nrows: int = 1, aspect: float | None = None
                ) -> tuple[float, float]:
    """Figure size in inches: talk, always 16:9; paper, single-column for one panel and
    double-column for more, each row ``height`` tall (or ``aspect`` x the panel width)."""
    s = STYLES[_current["style"]]
    if _current["style"] == "talk":
        return s["double"], s["height"]
    width = s["single"] if ncols == 1 else s["double"]
    row = width / ncols * aspect if aspect else s["height"]
    return width, row * nrows


def subplots(nrows: int = 1, ncols: int = 1, aspect: float | None = None, **kw):
    """``plt.subplots`` sized by :func:`figure_size`, with constrained layout (titles and a
    legend placed ``"outside lower center"`` never overlap the panels)."""
    kw.setdefault("squeeze", False)
    kw.setdefault("layout", "constrained")
    return plt.subplots(nrows, ncols, figsize=figure_size(ncols, nrows, aspect), **kw)


def default_figures_dir(profile: str, style: str = "paper") -> Path:
    """Where a command puts a profile's figures unless told: ``figures/<profile>/`` in
    paper style (the shipped ones), ``outputs/figures/<profile>-<style>/`` otherwise."""
    if style == "paper":
        return FIGURES_DIR / profile
    return OUTPUT_DIR / "figures" / f"{profile}-{style}"


def figures_dir(profile: str, out_dir: str | Path | None = None) -> Path:
    """``figures/<profile>/`` in the repository unless ``out_dir`` is given."""
    path = Path(out_dir) if out_dir else FIGURES_DIR / profile
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(
    fig: plt.Figure, name: str, out_dir: str | Path, data: pd.DataFrame,
    formats: Sequence[str] = ("pdf", "png"),
) -> list[Path]:
    """Write ``name.<format>`` for each of ``formats`` and ``name.csv`` (the numbers shown)
    into ``out_dir``; returns the paths.

    Files are written under a temporary name and renamed, so a figure is never half-written.
    """
    out = Path(out_dir)
    if data is None or len(data) == 0:
        raise ValueError(f"figure {name!r}: refusing to save a figure without its numbers")
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ValueError(f"figure {name!r}: unknown format(s) {bad}; choose from {FORMATS}")
    out.mkdir(parents=True, exist_ok=True)
    dpi = STYLES[_current["style"]]["dpi"]
    paths = []
    for ext in dict.fromkeys(formats):
        final = out / f"{name}.{ext}"
        tmp = out / f".{name}.tmp.{ext}"
        # no creation date: a rerun with the same numbers gives the same bytes
        meta = {"CreationDate": None} if ext == "pdf" else {"Date": None} if ext == "svg" else None
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

    ``captions[r][c]`` is written under image (r, c) (e.g. its PSNR). The cells fill the
    style's width (paper: at most 1.1 in each) or, in talk style, the 16:9 frame.
    """
    if images.ndim != 5:
        raise ValueError(f"image_grid wants (rows, cols, 3, H, W), got {tuple(images.shape)}")
    rows, cols = images.shape[:2]
    s = STYLES[_current["style"]]
    tall = 1.22 if captions else 1.0
    if cell is None:
        if _current["style"] == "talk":  # leave room for the title and row labels
            cell = min((s["height"] - 1.2) / (rows * tall), (s["double"] - 2.0) / cols)
        else:
            cell = min(1.1, (s["double"] - 0.6) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols, cell * rows * tall),
                             squeeze=False)
    # talk-size text would overflow cells of a grid that must fit the 16:9 frame
    small = s["font"] * (0.85 if _current["style"] == "paper" else 0.55)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(to_numpy_image(images[r, c]), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if captions is not None:
                ax.set_xlabel(captions[r][c], fontsize=small, labelpad=2)
            if row_labels is not None and c == 0:
                # a label longer than its row shrinks to fit it (neighbours never touch)
                longest = max(len(line) for line in str(row_labels[r]).split("\n"))
                fit = cell * 72 * 0.95 / (0.6 * max(longest, 1))
                ax.set_ylabel(row_labels[r], fontsize=min(small, fit))
            if col_labels is not None and r == 0:
                ax.set_title(col_labels[c], fontsize=small)
    fig.subplots_adjust(wspace=0.04, hspace=0.3 if captions else 0.04)
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


def titled(fig: plt.Figure, title: str | None, note: str | None = None,
           above: bool = False) -> None:
    """The figure's title, and under it ``note`` (sample sizes, reduced budgets), each
    wrapped to the figure's width; ``above``: just above the top of the figure (image
    grids, which do not use constrained layout)."""
    s = STYLES[_current["style"]]
    size = s["font"] * 1.15 * (0.6 if above and _current["style"] == "talk" else 1.0)
    chars = max(40, int(fig.get_size_inches()[0] * 72 / (size * 0.52)))
    text = "\n".join(textwrap.fill(t, chars) for t in (title, note) if t)
    if text and above:
        fig.suptitle(text, y=0.95, va="bottom", fontsize=size)
    elif text:
        fig.suptitle(text)


def ratio_axis(ax: plt.Axes, ratios: Sequence[float]) -> None:
    """A log-scaled m/n axis ticked at exactly ``ratios``."""
    ratios = sorted(set(float(r) for r in ratios))
    ax.set_xscale("log")
    ax.set_xticks(ratios, [f"{r:.3f}" for r in ratios])
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    lo, hi = min(ratios), max(ratios)
    pad = (hi / lo) ** 0.08 if hi > lo else 1.3
    ax.set_xlim(lo / pad, hi * pad)
    close = min(np.diff(np.log10(ratios)), default=1.0) < 0.25
    if len(ratios) > 5 or close:  # labels of close ticks would touch: turn them
        ax.tick_params(axis="x", labelrotation=40)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")


#: At most this many values per point of a line plot are also drawn one by one.
MAX_POINTS = 12


def psnr_vs_ratio(
    frame: pd.DataFrame,
    *,
    facet: str = "family",
    series: str = "series",
    x: str = "ratio",
    y: str = "psnr",
    title: str | None = None,
    note: str | None = None,
    ylim: tuple[float, float] | None = None,
    palette: dict[str, str] | None = None,
    points: bool | None = None,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Mean +- SD of ``y`` against ``x``, one panel per ``facet``, one line per ``series``.

    ``x == "ratio"`` is drawn on a log axis. ``points`` also draws every value (default:
    when no point averages more than :data:`MAX_POINTS` values). ``palette`` maps series
    to colours (default: the house colour of each, :func:`series_color`). Returns the
    figure and the summary table (facet, series, x, mean, sd, n) it shows.
    """
    for col in (facet, series, x, y):
        if col not in frame.columns:
            raise KeyError(f"psnr_vs_ratio needs a {col!r} column; have {list(frame.columns)}")
    if len(frame) == 0:
        raise ValueError("psnr_vs_ratio: no rows to draw")
    summary = (
        frame.groupby([facet, series, x])[y]
        .agg(mean="mean", sd="std", n="count")
        .reset_index()
        .fillna({"sd": 0.0})
    )
    if points is None:
        points = summary["n"].max() <= MAX_POINTS
    s = style()
    facets = list(dict.fromkeys(frame[facet]))
    names = list(dict.fromkeys(frame[series]))
    fig, axes = subplots(1, len(facets), sharey=True)
    for ax, f in zip(axes[0], facets, strict=True):
        part = summary[summary[facet] == f]
        for k, name in enumerate(names):
            line = part[part[series] == name].sort_values(x)
            if line.empty:
                continue
            color = (palette or {}).get(str(name)) or series_color(str(name))
            ax.plot(line[x], line["mean"], marker="o", label=series_label(str(name)),
                    color=color, zorder=3)
            ax.fill_between(line[x], line["mean"] - line["sd"], line["mean"] + line["sd"],
                            alpha=0.15 if len(names) <= 3 else 0.08, color=color, lw=0)
            if points:
                raw = frame[(frame[facet] == f) & (frame[series] == name)]
                # spread the series a little along x so their points do not hide each other
                shift = (k - (len(names) - 1) / 2) * 0.025
                xs = raw[x] * np.exp(shift) if x == "ratio" else raw[x] + shift * 4
                ax.scatter(xs, raw[y], s=s["point"] ** 2, color=color, alpha=0.55, lw=0,
                           zorder=2)
        ax.set_title(str(f).upper() if len(str(f)) <= 5 else str(f))
        ax.set_xlabel({"ratio": "undersampling ratio m/n", "cut": "cut index c"}.get(x, x))
        if x == "ratio":
            ratio_axis(ax, frame[x].unique())
        elif x == "cut":
            ax.set_xticks(sorted(frame[x].unique()))
        ax.grid(alpha=0.3)
        if ylim:
            ax.set_ylim(*ylim)
    axes[0][0].set_ylabel("PSNR (dB)" if y == "psnr" else y)
    titled(fig, title, note)
    legend_below(fig, [entry for ax in axes[0]
                       for entry in zip(*ax.get_legend_handles_labels(), strict=True)])
    return fig, summary


def legend_below(fig: plt.Figure, entries: Sequence[tuple]) -> None:
    """One figure legend below the panels from ``(handle, label)`` pairs, the first handle
    of each label (constrained layout keeps it clear of the panels)."""
    handles: dict[str, object] = {}
    for handle, label in entries:
        handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center",
                   ncol=min(len(handles), 4), frameon=False)


def _point_color(color) -> tuple:
    """Points drawn on a box: a darker shade of its colour, or a lighter one on a dark box
    (so a black box does not hide black points)."""
    rgb = matplotlib.colors.to_rgb(color)
    if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] < 0.35:
        return tuple(0.45 * v + 0.55 for v in rgb)
    return tuple(0.6 * v for v in rgb)


def box_by(
    frame: pd.DataFrame, *, x: str, hue: str, y: str = "psnr", title: str | None = None,
    note: str | None = None, col: str | None = None, palette: dict[str, str] | None = None,
    rotation: float = 0,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Box plots of ``y`` per ``x`` and ``hue`` (optionally one panel per ``col``), every
    value drawn as a point on top.

    ``palette`` maps hue values to colours (default: :func:`series_color` of each); hue
    values that are series names are shown by their labels;
    ``rotation`` turns the x tick labels (degrees, e.g. 30 for long labels)."""
    if len(frame) == 0:
        raise ValueError("box_by: no rows to draw")
    cols = list(dict.fromkeys(frame[col])) if col else [None]
    names = list(dict.fromkeys(frame[hue]))
    colors = {str(h): (palette or {}).get(str(h)) or series_color(str(h)) for h in names}
    # draw with display labels (method names become their labels); the summary keeps names
    keys = [k for k in (col, x, hue) if k]
    summary = frame.groupby(keys)[y].agg(mean="mean", sd="std", n="count").reset_index()
    frame = frame.assign(**{hue: [series_label(str(h)) for h in frame[hue]]})
    hue_order = [series_label(str(h)) for h in names]
    palette = {series_label(h): c for h, c in colors.items()}
    dots = {h: _point_color(c) for h, c in palette.items()}
    s = style()
    fig, axes = subplots(1, len(cols), sharey=True)
    entries: list[tuple] = []
    for ax, c in zip(axes[0], cols, strict=True):
        part = frame if c is None else frame[frame[col] == c]
        sns.boxplot(data=part, x=x, y=y, hue=hue, hue_order=hue_order, palette=palette,
                    ax=ax, showfliers=False, linewidth=s["line"] * 0.6)
        # a box only a few points tall shows its edges alone: edge each box in a darker
        # shade of its own colour
        for patch in ax.patches:
            patch.set_edgecolor(tuple(0.6 * v for v in patch.get_facecolor()[:3]))
        # seaborn jitters with numpy's global generator: seed it for this call only, so a
        # rerun with the same numbers draws the same figure
        state = np.random.get_state()
        np.random.seed(0)
        try:
            sns.stripplot(data=part, x=x, y=y, hue=hue, hue_order=hue_order, palette=dots,
                          ax=ax, dodge=True, size=s["point"], jitter=0.1, legend=False)
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
    titled(fig, title, note)
    legend_below(fig, entries)
    return fig, summary


def bar_by(
    frame: pd.DataFrame, *, x: str, hue: str, y: str, log: bool = False,
    title: str | None = None, note: str | None = None, ylabel: str | None = None,
    palette: dict[str, str] | None = None,
) -> tuple[plt.Figure, pd.DataFrame]:
    """Grouped bars of ``y`` per ``x`` and ``hue`` (one value per pair; ``log``: log axis).

    Hue values that are series names are shown by their labels and house colours.
    Returns the figure and the table (x, hue, y) it shows, e.g. the number of optimised
    parameters per model (x) and method (hue).
    """
    table = frame[[x, hue, y]].dropna().reset_index(drop=True)
    table[y] = pd.to_numeric(table[y])
    xs = list(dict.fromkeys(table[x]))
    hues = list(dict.fromkeys(table[hue]))
    pal = {series_label(str(h)): (palette or {}).get(str(h)) or series_color(str(h))
           for h in hues}
    shown = table.assign(**{hue: [series_label(str(h)) for h in table[hue]]})
    fig, axes = subplots(1, 2 if style()["name"] == "paper" else 1)
    ax = axes[0][0]
    if axes.shape[1] > 1:  # paper: the full double-column width for one wide panel
        fig.delaxes(axes[0][1])
        ax.set_subplotspec(fig.add_gridspec(1, 1)[0, 0])
    sns.barplot(data=shown, x=x, y=y, hue=hue, order=xs, hue_order=list(pal), palette=pal,
                ax=ax)
    if log:
        ax.set_yscale("log")
    # group labels wider than their group wrap at spaces (talk-size text would overlap)
    chars = int(fig.get_size_inches()[0] / len(xs) * 72 / (style()["font"] * 0.9 * 0.6))
    ax.set_xticks(range(len(xs)), [textwrap.fill(str(v), max(chars, 6)) for v in xs])
    ax.set_xlabel("")
    ax.set_ylabel(ylabel or y)
    ax.grid(axis="y", alpha=0.3)
    entries = list(zip(*ax.get_legend_handles_labels(), strict=True))
    if ax.get_legend():
        ax.get_legend().remove()
    titled(fig, title, note)
    legend_below(fig, entries)
    return fig, table
