"""``python -m gs.figures``: redraw figures from a profile's shipped results, no recovery.

    python -m gs.figures                                  # every offline figure, paper style
    python -m gs.figures 03 05 --style talk --format png,pdf,svg --out /tmp/talk
    python -m gs.figures 02 03 10 --profile offline-full --families dcgan  # a run in progress

Reads ``figures/<profile>/results.csv.gz``, ``images.npz`` and ``samples.npz``
(:mod:`gs.results`), builds each figure's tasks exactly as its notebook does and draws
them; a task missing from the table is an error, never a recomputation. No figure runs a
generator: ``01`` and ``train`` (samples of the generators this project trained) draw the
samples kept in ``samples.npz``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from gs import plotting
from gs.figures import beyond, curves, images, studies
from gs.figures.common import Drawn, MissingResults, NotRun, Source, table_source
from gs.paths import FIGURES_DIR, staged
from gs.profiles import PROFILES, Profile, get_profile

#: Figure groups by notebook number, each drawn with the notebook's default parameters.
FIGURES = {
    "01": lambda src, cfg, **kw: images.samples(cfg, source=src, **kw),
    "02": curves.cut_selection,
    "03": curves.compressed_sensing,
    "04": curves.baselines,
    "05": images.qualitative,
    "06": curves.reinit,
    "07": studies.zero_error,
    "08": lambda src, cfg, families=None, **kw: studies.supplement(
        src, studies.supplement_settings(cfg, families), **kw),
    "09": beyond.auto_cut,
    "10": beyond.paper_claims,
    "train": lambda src, cfg, **kw: images.trained_samples(cfg, source=src, **kw),
}


def shipped_source(profile: str, directory: str | Path | None = None
                   ) -> tuple[Source, Profile]:
    """A :class:`Source` reading only the shipped table and images of ``profile``."""
    from gs import results

    table, pngs, truth = results.load(profile, directory)
    folder = Path(directory) if directory else FIGURES_DIR / profile
    return (table_source(results.table_store(table, pngs), truth,
                         folder / results.SAMPLES_NAME), get_profile(profile))


#: The groups that can draw a part of their figures: ``families`` (model families) and
#: ``image_sets`` (in- / out-of-distribution). The other groups always draw everything.
#: For 08, as for its notebook's ``families`` parameter, the selection also decides the
#: family of studies (b)-(d): the BEGAN if selected, else the first selected family.
SELECTABLE = {"02": ("families", "image_sets"), "03": ("families", "image_sets"),
              "04": ("families", "image_sets"), "05": ("families", "image_sets"),
              "06": ("families", "image_sets"), "07": ("families",), "08": ("families",),
              "09": ("families",)}


def own_sets(group: str, cfg: Profile) -> list[str]:
    """The image sets figure ``group`` shows by default: 04 at a reduced baseline budget
    and 06 only the in-distribution set, the others both."""
    if group == "04":
        return curves.baseline_config(cfg)[1]
    return [cfg.in_dist] if group == "06" else [cfg.in_dist, cfg.ood]


def check_selection(cfg: Profile, families: Sequence[str] | None,
                    image_sets: Sequence[str] | None) -> None:
    """A ValueError (one line) for a family or image set ``cfg`` does not have."""
    if families and (bad := [f for f in families if f not in cfg.models]):
        raise ValueError(f"--families: profile {cfg.name!r} has no family {bad}; it has "
                         f"{list(cfg.models)}")
    if image_sets and (bad := [s for s in image_sets if s not in (cfg.in_dist, cfg.ood)]):
        raise ValueError(f"--image-sets: profile {cfg.name!r} uses "
                         f"{[cfg.in_dist, cfg.ood]}, not {bad}")


def selection(cfg: Profile, families: str | None, image_sets: str | None
              ) -> tuple[list[str] | None, list[str] | None]:
    """``--families`` / ``--image-sets`` as lists, each name once, in order (None: not
    given); a ValueError (one line) for a list with no name or a name ``cfg`` lacks."""
    out = []
    for option, text in (("--families", families), ("--image-sets", image_sets)):
        if text is None:
            out.append(None)
            continue
        names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
        if not names:
            raise ValueError(f"{option}: no name in {text!r}; leave the option out for all")
        out.append(names)
    check_selection(cfg, *out)
    return out[0], out[1]


def draw_all(source: Source, cfg: Profile, groups: Sequence[str], *,
             out_dir: Path | None, formats: Sequence[str] = ("pdf", "png"),
             families: Sequence[str] | None = None,
             image_sets: Sequence[str] | None = None) -> dict[str, Drawn]:
    """Draw the figure ``groups`` (keys of :data:`FIGURES`); save them into ``out_dir``.

    ``families`` / ``image_sets`` restrict the groups of :data:`SELECTABLE` that take them
    (e.g. a profile whose run has so far computed only the DCGAN on faces); the others
    draw everything. ``image_sets`` restricts each group's own sets (:func:`own_sets`):
    a group left with none raises :class:`NotRun`. A name the profile lacks is a
    ValueError."""
    check_selection(cfg, families, image_sets)
    drawn = {}
    for g in groups:
        options: dict = {}
        if families and "families" in SELECTABLE.get(g, ()):
            options["families"] = list(dict.fromkeys(families))
        if image_sets and "image_sets" in SELECTABLE.get(g, ()):
            own = own_sets(g, cfg)
            options["image_sets"] = [s for s in own if s in image_sets]
            if not options["image_sets"]:
                raise NotRun(f"figure {g} of profile {cfg.name!r} shows only {own}, not "
                             f"{list(image_sets)}")
        drawn[g] = FIGURES[g](source, cfg, out_dir=out_dir, formats=formats, **options)
    return drawn


def output_folder(out: str | None, profile: str, style: str, option: str = "--out") -> Path:
    """``out`` (given as ``option``) as a folder that exists (made if need be), else
    :func:`default_figures_dir`; a ValueError (one line) for an empty path or one that
    cannot be a folder."""
    if out is not None and not out.strip():
        raise ValueError(f"{option}: an empty path")
    path = Path(out) if out is not None else plotting.default_figures_dir(profile, style)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option}: {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"{option}: cannot make the folder {path} ({exc.strerror})") from None
    return path


def draw_group(source: Source, cfg: Profile, group: str, out: Path, **options) -> Drawn:
    """Draw one figure ``group`` into ``out``, all its files or none (:func:`gs.paths.staged`)."""
    with staged(out, f".draw-{group}-") as tmp:
        drawn = draw_all(source, cfg, [group], out_dir=tmp, **options)[group]
    drawn.paths = [out / Path(p).name for p in drawn.paths]
    return drawn


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gs.figures",
                                 description=__doc__.splitlines()[0].replace("``", ""))
    ap.add_argument("figures", nargs="*", metavar="NN",
                    help=f"figure groups by notebook number (default all: {' '.join(FIGURES)})")
    ap.add_argument("--profile", default="offline", choices=sorted(PROFILES))
    ap.add_argument("--style", default="paper", choices=sorted(plotting.STYLES))
    ap.add_argument("--format", default="pdf,png",
                    help=f"comma-separated, from {','.join(plotting.FORMATS)} (a CSV of the "
                         "numbers always comes along)")
    ap.add_argument("--out", help="output folder (default: figures/PROFILE in paper style, "
                                  "outputs/figures/PROFILE-STYLE otherwise)")
    ap.add_argument("--results", help="folder holding results.csv.gz and images.npz "
                                      "(default figures/PROFILE)")
    ap.add_argument("--families", help="comma-separated model families to draw, e.g. dcgan "
                    f"(groups {', '.join(SELECTABLE)}; default all; for 08 also the family of "
                    "its studies (b)-(d), as its notebook's families parameter: the BEGAN if "
                    "given, else the first)")
    ap.add_argument("--image-sets", help="comma-separated image sets to draw, e.g. faces "
                    f"(groups {', '.join(g for g, o in SELECTABLE.items() if 'image_sets' in o)}"
                    "; default each figure's own: both, but 06 and 04 at a reduced baseline "
                    "budget only the in-distribution set; a figure left with none is skipped, "
                    "and an error if every one is)")
    args = ap.parse_args(argv)
    unknown = [g for g in args.figures if g not in FIGURES]
    if unknown:
        ap.error(f"unknown figure(s) {unknown}; choose from {list(FIGURES)}")
    formats = list(dict.fromkeys(f.strip() for f in args.format.split(",") if f.strip()))
    if not formats:
        ap.error(f"--format: no format in {args.format!r}; choose from {list(plotting.FORMATS)}")
    if bad := [f for f in formats if f not in plotting.FORMATS]:
        ap.error(f"unknown format(s) {bad}; choose from {list(plotting.FORMATS)}")
    try:
        families, image_sets = selection(get_profile(args.profile), args.families,
                                         args.image_sets)
        out = output_folder(args.out, args.profile, args.style)
    except ValueError as exc:
        ap.error(str(exc))
    t0 = time.perf_counter()
    try:
        source, cfg = shipped_source(args.profile, args.results)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    plotting.set_style(args.style)
    failed: list[str] = []
    skipped: list[str] = []
    groups = list(dict.fromkeys(args.figures)) or list(FIGURES)
    for group in groups:
        t = time.perf_counter()
        try:
            drawn = draw_group(source, cfg, group, out, formats=formats, families=families,
                               image_sets=image_sets)
        except NotRun as exc:
            print(f"{group}: skipped: {exc}")
            skipped.append(group)
            continue
        except (MissingResults, FileNotFoundError) as exc:
            print(f"error: figure {group}: {exc}", file=sys.stderr)
            failed.append(group)
            continue
        drawn.close()
        print(f"{group}: {', '.join(sorted(drawn.figures))} ({time.perf_counter() - t:.1f} s)")
    print(f"done in {time.perf_counter() - t0:.1f} s -> {out}"
          + (f"; not drawn (nothing written for them): {' '.join(failed)}" if failed else ""))
    if failed:
        return 1
    if len(skipped) == len(groups) and (families or image_sets):
        print("error: the selection leaves every figure asked for nothing to show",
              file=sys.stderr)
        return 2
    return 0
