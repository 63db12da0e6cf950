"""Per-task results shipped beside the figures, and the numbers the README quotes.

Each profile's run exports its results store (:func:`gs.sweep.default_store`) into its
figures folder::

    figures/<profile>/results.csv.gz   one row per task: configuration, PSNR, SSIM, loss,
                                       time, device, versions (the store's columns)
    figures/<profile>/images.npz       the recovered images the qualitative figures show
                                       (8-bit PNG bytes by task key) and their originals
    figures/<profile>/samples.npz      the generator samples figures 01 and train show
                                       (8-bit pixels) with their statistics

so every figure can be redrawn from them without recovering anything
(``python -m gs.figures``). Commands::

    python -m gs.results export --profile offline    # store -> figures/offline/
    python -m gs.results restore --profile offline-full  # figures/offline-full/ -> store
    python -m gs.results summary --profile offline   # every number the README quotes
    python -m gs.results claims --profile offline-full --against offline
                                # the paper's claims, and what changed from the quick run

>>> import pandas as pd, tempfile, os
>>> t = pd.DataFrame({"key": ["b", "a"], "model": ["", "m"], "psnr": [20.5, float("inf")]})
>>> path = write_table(t, os.path.join(tempfile.mkdtemp(), "r.csv.gz"))
>>> back = read_table(path)
>>> back["key"].tolist(), back["model"].tolist(), back["psnr"].tolist()
(['a', 'b'], ['m', ''], [inf, 20.5])
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import sqlite3
import sys
import zipfile
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from gs.paths import staged
from gs.profiles import PROFILES
from gs.sweep.store import COLUMNS, ResultsStore, default_store

TABLE_NAME = "results.csv.gz"
IMAGES_NAME = "images.npz"
SAMPLES_NAME = "samples.npz"


def _replace(path: Path, data: bytes) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` as a gzip CSV, rows sorted by ``key``: the same records give the
    same bytes (no time stamp in the gzip header). Floats keep every digit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = frame.sort_values("key").to_csv(index=False, lineterminator="\n")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz:
        gz.write(text.encode())
    return _replace(path, buf.getvalue())


def read_table(path: str | Path) -> pd.DataFrame:
    """A table written by :func:`write_table`, with the store's dtypes: text columns keep
    empty strings (``model == ""`` for generator-free methods), integer columns with gaps
    are ``Int64``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no results table at {path}")
    head = pd.read_csv(path, nrows=0).columns
    text = [c for c in head if COLUMNS.get(c, "TEXT") == "TEXT"]
    frame = pd.read_csv(path, dtype={c: str for c in text}, keep_default_na=False,
                        na_values={c: [""] for c in head if c not in text})
    for col in head:
        kind = COLUMNS.get(col)
        if kind == "REAL":
            frame[col] = frame[col].astype("float64")
        elif kind == "INTEGER":
            frame[col] = frame[col].astype("Int64")
    if "engine" not in frame.columns:  # tables exported before records carried it
        frame["engine"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    return frame


def _records(frame: pd.DataFrame) -> list[dict]:
    out = []
    for row in frame.to_dict("records"):
        out.append({k: (None if v is pd.NA or (isinstance(v, float) and np.isnan(v))
                        else int(v) if isinstance(v, np.integer) else v)
                    for k, v in row.items() if k in COLUMNS})
    return out


def missing_columns(frame: pd.DataFrame) -> list[str]:
    """The store's columns ``frame`` lacks (a table :func:`read_table` read lacks none)."""
    return [c for c in COLUMNS if c not in frame.columns]


def table_store(frame: pd.DataFrame, images: dict[str, bytes] | None = None) -> ResultsStore:
    """An in-memory :class:`ResultsStore` holding the rows of ``frame`` (and ``images``,
    PNG bytes by key), for the code that reads a store (e.g. :func:`gs.sweep.chosen_cuts`)."""
    if missing := missing_columns(frame):
        raise ValueError(f"results table lacks the columns {missing}")
    store = ResultsStore(":memory:")
    records = _records(frame)
    for r in records:
        if images and r["key"] in images:
            r["image_png"] = images[r["key"]]
    store.add(records)
    return store


def _truth_name(image_set: str, split: str, size: int, name: str) -> str:
    return f"truth|{image_set}|{split}|{size}|{name}"


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` archive of ``arrays`` whose bytes depend on nothing else (the zip
    entries carry a fixed date; ``np.savez`` stamps the current time)."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            arr = io.BytesIO()
            np.lib.format.write_array(arr, np.asanyarray(arrays[name]), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)),
                        arr.getvalue())
    return buf.getvalue()


def write_images(store: ResultsStore, keys: Iterable[str], path: str | Path) -> Path:
    """Write the stored images of ``keys`` (PNG bytes, as stored) and the originals of
    their images into an ``.npz`` archive (the same images give the same bytes)."""
    from gs.sweep import encode_png, load_images

    keys = sorted(set(keys))
    # 8-bit images decode and encode again to the same pixels
    arrays = {k: np.frombuffer(encode_png(image), dtype=np.uint8)
              for k, image in store.images(keys).items()}
    rows = store.query(keys=keys)
    for (image_set, split, size), part in rows.groupby(["image_set", "split", "image_size"]):
        names = sorted(set(part["image"]))
        truth = load_images(image_set, split, int(size), names).images
        for name, image in zip(names, truth, strict=True):
            arrays[_truth_name(image_set, split, int(size), name)] = np.frombuffer(
                encode_png(image), dtype=np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _replace(path, _npz_bytes(arrays))


def read_images(path: str | Path) -> tuple[dict[str, bytes], dict[tuple, object]]:
    """``(recovered PNG bytes by key, true images by (image_set, split, size, name))``
    from an archive written by :func:`write_images` (empty when there is none)."""
    from gs.sweep import decode_png

    path = Path(path)
    if not path.is_file():
        return {}, {}
    images, truth = {}, {}
    with np.load(path) as archive:
        for name in archive.files:
            data = archive[name].tobytes()
            if name.startswith("truth|"):
                _, image_set, split, size, image = name.split("|", 4)
                truth[image_set, split, int(size), image] = decode_png(data)
            else:
                images[name] = data
    return images, truth


def write_samples(sheets: Iterable, path: str | Path, merge: bool = True) -> Path:
    """Write generator samples (:class:`gs.samples.SampleSheet`) into the ``.npz`` archive
    ``path``: per sheet one PNG of its pixels (cuts as rows, seeds as columns), its
    statistics as CSV text and its info as JSON. With ``merge``, sheets already in the
    archive stay unless one of the same kind and model replaces them. The same sheets give
    the same bytes."""
    import json

    from gs.sweep import encode_png

    path = Path(path)
    kept = read_samples(path) if merge and path.is_file() else {}
    for sheet in sheets:
        kept[sheet.kind, sheet.model] = sheet
    arrays = {}
    for (kind, model), sheet in kept.items():
        p = sheet.pixels  # (C, S, 3, H, W) -> (3, C*H, S*W)
        c, s, _, h, w = p.shape
        tiled = p.permute(2, 0, 3, 1, 4).reshape(3, c * h, s * w)
        head = f"{kind}|{model}"
        arrays[f"{head}|pixels"] = np.frombuffer(encode_png(tiled), dtype=np.uint8)
        arrays[f"{head}|stats"] = np.frombuffer(
            sheet.stats.to_csv(index=False, lineterminator="\n").encode(), dtype=np.uint8)
        arrays[f"{head}|info"] = np.frombuffer(json.dumps(
            {"cuts": list(sheet.cuts), "seeds": list(sheet.seeds), "size": [h, w],
             **sheet.info}, sort_keys=True).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _replace(path, _npz_bytes(arrays))


def read_samples(path: str | Path) -> dict:
    """``{(kind, model): SampleSheet}`` from an archive written by :func:`write_samples`;
    a FileNotFoundError names the archive when there is none."""
    import json

    from gs.samples import SampleSheet
    from gs.sweep import decode_png

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no generator samples at {path}: the figures of generator samples (01, train) "
            "are drawn from it; draw them from the generators once (notebook 01, or "
            "python -m gs.results export) to write it")
    out = {}
    with np.load(path, allow_pickle=False) as archive:
        heads = sorted({n.rsplit("|", 1)[0] for n in archive.files})
        for head in heads:
            kind, model = head.split("|", 1)
            info = json.loads(archive[f"{head}|info"].tobytes())
            cuts, seeds, (h, w) = info.pop("cuts"), info.pop("seeds"), info.pop("size")
            tiled = decode_png(archive[f"{head}|pixels"].tobytes())
            pixels = tiled.reshape(3, len(cuts), h, len(seeds), w).permute(1, 3, 0, 2, 4)
            stats = pd.read_csv(io.BytesIO(archive[f"{head}|stats"].tobytes()),
                                keep_default_na=False, na_values=[""])
            out[kind, model] = SampleSheet(kind, model, cuts, seeds, pixels.contiguous(),
                                           stats, info)
    return out


def shown_image_keys(store: ResultsStore, ratio: float) -> list[str]:
    """Keys of the stored images at undersampling ratio ``ratio`` (what the qualitative
    figures show at the profile's ``show_ratio``)."""
    frame = store.query(keys=store.image_keys())
    return frame.loc[np.isclose(frame["ratio"].astype(float), ratio), "key"].tolist()


def export(profile: str, store: ResultsStore | None = None,
           out_dir: str | Path | None = None, samples: bool = True) -> list[Path]:
    """Write ``profile``'s store as ``results.csv.gz``, the images of its qualitative
    figures as ``images.npz`` and (``samples``) the generator samples of figures 01 and
    ``train`` as ``samples.npz`` (drawn from the generators: a forward pass per sample)
    into ``out_dir`` (default ``figures/<profile>/``).

    All or nothing: the files are written into a temporary folder beside their place and
    moved there only when every one is written. A ValueError (nothing written) for an
    empty store or one holding records of models ``profile`` does not use."""
    from gs.plotting import figures_dir
    from gs.profiles import get_profile

    cfg = get_profile(profile)
    store = store if store is not None else default_store(profile)
    frame = store.to_frame()
    if len(frame) == 0:
        raise ValueError(f"the results store {store.path} is empty: nothing to export")
    models = set(cfg.models.values())
    if foreign := sorted(set(frame["model"]) - models - {""}):
        raise ValueError(f"the results store {store.path} holds records of {foreign}, models "
                         f"profile {profile!r} does not use ({sorted(models)}): is it the "
                         "store of another profile?")
    out = figures_dir(profile, out_dir)
    with staged(out, ".export-") as tmp:
        written = [write_table(frame, tmp / TABLE_NAME)]
        if keys := shown_image_keys(store, cfg.show_ratio):
            written.append(write_images(store, keys, tmp / IMAGES_NAME))
        if samples:
            from gs.figures.images import shipped_sheets

            written.append(write_samples(shipped_sheets(cfg), tmp / SAMPLES_NAME, merge=False))
    if not keys and (out / IMAGES_NAME).is_file():  # not another store's images
        (out / IMAGES_NAME).unlink()
    return [out / path.name for path in written]


def restore(profile: str, store: ResultsStore | None = None,
            directory: str | Path | None = None) -> tuple[int, int]:
    """Put the shipped table and images of ``profile`` (:func:`load`:
    ``figures/<profile>/``) into its results store (default :func:`default_store`), so
    that a fresh clone resumes the profile's run where its last export stopped instead
    of computing it again. The inverse of :func:`export`, except for the images the
    qualitative figures do not show (those were never shipped).

    Records already in the store are kept as they are (``INSERT OR IGNORE``), so
    restoring into a store that ran on since the export adds only what it lacks. One
    transaction: all or nothing. Returns ``(records added, images added)``. A ValueError
    (nothing written) for a table holding records of models ``profile`` does not use."""
    from gs.profiles import get_profile

    table, images, _ = load(profile, directory)
    models = set(get_profile(profile).models.values())
    if foreign := sorted(set(table["model"]) - models - {""}):
        raise ValueError(f"the table of {profile!r} holds records of {foreign}, models the "
                         f"profile does not use ({sorted(models)})")
    if unknown := sorted(set(images) - set(table["key"])):
        raise ValueError(f"{len(unknown)} shipped images have no record in the table (first:"
                         f" {unknown[0]}); export them again")
    store = store if store is not None else default_store(profile)
    had = store.image_keys()
    records = _records(table)
    for r in records:
        if r["key"] in images:
            r["image_png"] = images[r["key"]]
    added = store.add(records)
    return added, len(set(images) - had)


def load(profile: str, directory: str | Path | None = None
         ) -> tuple[pd.DataFrame, dict[str, bytes], dict[tuple, object]]:
    """The shipped table, images and originals of ``profile`` (``figures/<profile>/``): a
    FileNotFoundError when there is no table, a ValueError (one line) when a file is not
    what :func:`export` writes."""
    from gs.paths import FIGURES_DIR

    directory = Path(directory) if directory else FIGURES_DIR / profile
    again = f"export them again with python -m gs.results export --profile {profile}"
    if not (directory / TABLE_NAME).is_file():
        raise FileNotFoundError(f"no results table at {directory / TABLE_NAME}; "
                                + again.replace("them again", "one"))
    name = TABLE_NAME
    try:
        table = read_table(directory / TABLE_NAME)
        if missing := missing_columns(table):
            raise ValueError(f"no columns {missing}")
        name = IMAGES_NAME
        images, truth = read_images(directory / IMAGES_NAME)
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise ValueError(f"{directory / name} is not readable as what python -m gs.results "
                         f"export writes ({type(exc).__name__}: {str(exc).split('. ')[0]});"
                         f" {again}") from None
    return table, images, truth


# --------------------------------------------------------------------------- summary
def _stats(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    g = frame.groupby(list(by), sort=True)
    out = g["psnr"].agg(psnr="mean", sd="std", n="count")
    out["ssim"] = g["ssim"].mean()
    out["ssim_sd"] = g["ssim"].std()
    return out.reset_index()


def summary_tables(profile: str, directory: str | Path | None = None, *,
                   families: Sequence[str] | None = None,
                   image_sets: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Every number the README quotes, from the shipped table: mean PSNR, its SD and n,
    with mean SSIM (and SD) beside it, per figure and the groups it compares; the gains
    are means of paired per-image differences.

    ``families`` / ``image_sets`` restrict the figures that take them (a run in progress,
    see :func:`gs.figures.cli.draw_all`). A figure whose tasks the table does not hold
    yet gets a one-row table ``NN missing`` saying so instead of its numbers (the command
    then exits 1), and one the selection leaves nothing to show ``NN not drawn``."""
    from gs.figures import cli
    from gs.figures.common import MissingResults, NotRun

    source, cfg = cli.shipped_source(profile, directory)
    tables: dict[str, pd.DataFrame] = {}
    draw = {}
    for group in ("02", "03", "04", "06", "07", "08"):
        try:
            draw[group] = cli.draw_all(source, cfg, [group], out_dir=None, families=families,
                                       image_sets=image_sets)[group]
        except NotRun as exc:  # the selection leaves the figure nothing to show
            tables[f"{group} not drawn"] = pd.DataFrame([{"figure": group, "why": str(exc)}])
        except MissingResults as exc:
            tables[f"{group} missing"] = pd.DataFrame([{"figure": group, "missing": str(exc)}])
    if "02" in draw:
        cuts = draw["02"].cuts
        tables["cuts (02, validation, pooled over m)"] = pd.DataFrame(
            [{"family": f, "cut": c.cut, "paper_cut": c.paper_cut, "source": c.source}
             for f, c in cuts.items()])
        val = draw["02"].frames["02_cut_selection"]
        val = val[val.image_set == cfg.in_dist]
        chosen = val[val.cut == val.family.map({f: c.cut for f, c in cuts.items()})]
        tables["02 validation faces, cut 0 vs chosen cut"] = _stats(
            pd.concat([val[val.cut == 0].assign(at="cut 0"), chosen.assign(at="chosen")]),
            ["family", "at"])
    if "03" in draw:
        cs = pd.concat(f for n, f in draw["03"].frames.items() if n.startswith("03_cs_"))
        tables["03 by ratio"] = _stats(cs, ["image_set", "family", "series", "ratio"])
        tables["03 mean over ratios"] = _stats(cs, ["image_set", "family", "series"])
        tables["03 surgery gain (paired)"] = _gains(cs, "surgery", ["no_surgery", "lasso_dct"])
    if "04" in draw:
        base = pd.concat(f for n, f in draw["04"].frames.items()
                         if n.startswith("04_baselines"))
        tables["04 mean over ratios"] = _stats(base, ["image_set", "family", "series"])
        tables["04 by ratio"] = _stats(base, ["image_set", "family", "series", "ratio"])
    if "06" in draw:
        re = pd.concat(f for n, f in draw["06"].frames.items() if n.startswith("06_reinit"))
        tables["06 mean over ratios"] = _stats(re, ["image_set", "family", "series"])
        tables["06 surgery vs reinit (paired)"] = _gains(re, "surgery", ["reinit"])
    if "07" in draw:
        z = draw["07"].frames["07_zero_representation_error"]
        tables["07 by problem"] = _stats(z, ["family", "series", "problem"])
    if "08" in draw:
        _supplement_tables(draw["08"].frames, tables)
    for d in draw.values():
        d.close()
    return tables


def _supplement_tables(sup: dict[str, pd.DataFrame], tables: dict[str, pd.DataFrame]) -> None:
    tables["08a raw reconstruction"] = _stats(sup["08a_raw_reconstruction"],
                                              ["image_set", "family", "series"])
    tables["08a surgery gain (paired)"] = _gains(sup["08a_raw_reconstruction"], "surgery",
                                                 ["no_surgery"])
    tables["08b initialisation"] = _stats(sup["08b_initialisation"], ["image_set", "start"])
    tables["08c restarts"] = _stats(sup["08c_restarts"], ["family", "effort"])
    tables["08d inverse problems"] = _stats(
        sup["08d_inverse_problems"], ["image_set", "family", "problem", "series"])
    gaps = sup["08e_gaps"]
    tables["08e fair baseline gaps (paired)"] = (
        gaps.groupby(["image_set", "family"])
        .agg(gap=("gap", "mean"), gap_best_optimiser=("gap_best_optimiser", "mean"),
             n=("gap", "count"),
             adam_chosen=("best_optimiser", lambda s: float((s == "adam").mean())))
        .reset_index())
    tables["08e divergence"] = sup["08e_divergence"]


def claim_verdicts(profile: str, directory: str | Path | None = None) -> tuple[list, dict]:
    """The paper's claims judged from ``profile``'s shipped table (:mod:`gs.claims`, as
    figure 10), at the cuts its validation sweep chose: ``(verdicts, cut choices)`` (a
    family without a complete sweep is judged at the paper's cut; its choice says so)."""
    from gs import claims
    from gs.figures import cli

    source, cfg = cli.shipped_source(profile, directory)
    return claims.judge(source.store, cfg)


def _gains(frame: pd.DataFrame, series: str, against: Sequence[str]) -> pd.DataFrame:
    """Mean, SD and n of the paired per-image differences ``series - other`` (PSNR and
    SSIM) per image set and family."""
    keys = ["image_set", "family", "image", "m"]
    frame = frame.assign(m=frame["m"].astype("float64").fillna(0))  # no m: identity etc.
    wide = frame.pivot_table(index=keys, columns="series", values=["psnr", "ssim"])
    rows = []
    for other in against:
        d = (wide.xs(series, axis=1, level=1) - wide.xs(other, axis=1, level=1)).dropna()
        for (image_set, family), part in d.groupby(level=["image_set", "family"]):
            rows.append({"image_set": image_set, "family": family, "vs": other,
                         "gain_db": part["psnr"].mean(), "sd": part["psnr"].std(),
                         "n": len(part), "wins": float((part["psnr"] > 0).mean()),
                         "ssim_gain": part["ssim"].mean()})
    return pd.DataFrame(rows)


def format_tables(tables: dict[str, pd.DataFrame]) -> str:
    """The tables as plain text, one block per table (a ``missing`` or ``not drawn``
    table as its messages: one long column reads badly as a table)."""
    blocks = []
    for name, table in tables.items():
        if list(table.columns) in (["figure", "missing"], ["figure", "why"]):
            blocks.append(f"== {name}\n" + "\n".join(table.iloc[:, 1]))
            continue
        body = ("(no rows: the selection leaves this table nothing)" if table.empty else
                table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        blocks.append(f"== {name}\n{body}")
    return "\n\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gs.results", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write the profile's store into its figures folder")
    e.add_argument("--profile", default="offline", choices=sorted(PROFILES))
    e.add_argument("--store", help="results store (default outputs/results/PROFILE.sqlite)")
    e.add_argument("--out", help="folder (default figures/PROFILE)")
    e.add_argument("--no-samples", action="store_true",
                   help="leave samples.npz alone (it is drawn from the generators)")
    r = sub.add_parser("restore", help="put the profile's shipped table and images into its "
                                       "store, so a fresh clone resumes its run")
    r.add_argument("--profile", default="offline", choices=sorted(PROFILES))
    r.add_argument("--store", help="results store (default outputs/results/PROFILE.sqlite)")
    r.add_argument("--dir", help="folder holding results.csv.gz (default figures/PROFILE)")
    s = sub.add_parser("summary", help="print every number the README quotes")
    s.add_argument("--profile", default="offline", choices=sorted(PROFILES))
    s.add_argument("--dir", help="folder holding results.csv.gz (default figures/PROFILE)")
    s.add_argument("--families", help="comma-separated families (default all)")
    s.add_argument("--image-sets", help="comma-separated image sets (default each figure's "
                                        "own, as python -m gs.figures)")
    c = sub.add_parser("claims", help="print each claim's verdict from the shipped table; "
                                      "with --against, one sentence per claim comparing runs")
    c.add_argument("--profile", default="offline", choices=sorted(PROFILES))
    c.add_argument("--dir", help="folder holding results.csv.gz (default figures/PROFILE)")
    c.add_argument("--against", choices=sorted(PROFILES),
                   help="a first run to compare with, e.g. offline for offline-full "
                        "(its table: figures/AGAINST)")
    args = ap.parse_args(argv)
    for option in ("out", "dir", "store"):
        value = getattr(args, option, None)
        if value is not None and not value.strip():
            ap.error(f"--{option}: an empty path")
    if args.command == "claims":
        from gs import claims
        from gs.paths import FIGURES_DIR

        mine = Path(args.dir) if args.dir else FIGURES_DIR / args.profile
        if args.against and mine.resolve() == (FIGURES_DIR / args.against).resolve():
            c.error(f"--against {args.against}: the same table ({mine}); compare two runs")
        try:
            verdicts, choices = claim_verdicts(args.profile, args.dir)
            first = claim_verdicts(args.against)[0] if args.against else None
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print("\n".join(c.describe() for c in choices.values()))
        print(claims.summary(verdicts))
        if first is not None:
            table = claims.compare(first, verdicts)
            print(f"\n{args.against} -> {args.profile}:")
            print("\n".join(claims.compare_sentences(table, args.against, args.profile)))
        return 0
    if args.command == "export":
        from gs.figures.cli import output_folder
        from gs.sweep.store import default_store_path

        path = Path(args.store) if args.store else default_store_path(args.profile)
        if path.is_file() and path.stat().st_size == 0:  # left as it is, not made a store
            print(f"error: the results store {path} is an empty file: nothing to export",
                  file=sys.stderr)
            return 2
        if not path.is_file():  # never create an empty store by exporting
            e.error(f"no results store at {path}" + ("" if args.store else
                    f": run the profile's notebooks first (python -m gs.notebooks "
                    f"--profile {args.profile}) or name one with --store"))
        try:
            out = output_folder(args.out, args.profile, "paper")
            for written in export(args.profile, ResultsStore(path), out,
                                  samples=not args.no_samples):
                print(written)
        except sqlite3.OperationalError as exc:  # e.g. locked by a sweep writing to it
            print(f"error: results store {path}: {exc}", file=sys.stderr)
            return 2
        except sqlite3.DatabaseError as exc:
            print(f"error: {path} is not a results store ({exc})", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "restore":
        from gs.sweep.store import default_store_path

        path = Path(args.store) if args.store else default_store_path(args.profile)
        try:
            store = ResultsStore(path)
            records, images = restore(args.profile, store, args.dir)
        except (FileNotFoundError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except sqlite3.DatabaseError as exc:  # locked by a sweep, or not a store
            print(f"error: results store {path}: {exc}", file=sys.stderr)
            return 2
        print(f"{path}: {records} records and {images} images added from the shipped table"
              f" ({len(store)} records in all)")
        return 0
    from gs.figures import cli
    from gs.profiles import get_profile

    try:
        families, image_sets = cli.selection(get_profile(args.profile), args.families,
                                             args.image_sets)
    except ValueError as exc:
        s.error(str(exc))
    try:
        tables = summary_tables(args.profile, args.dir, families=families,
                                image_sets=image_sets)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_tables(tables))
    missing = [name.split()[0] for name in tables if name.endswith(" missing")]
    if missing:
        print(f"error: figure(s) {', '.join(missing)} lack records in the table; their "
              "'missing' tables above say which", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
