"""The results store: one SQLite file per profile, a row per task, never half-written.

>>> import tempfile, os
>>> store = ResultsStore(os.path.join(tempfile.mkdtemp(), "r.sqlite"))
>>> len(store), store.done_keys()
(0, set())
"""

from __future__ import annotations

import contextlib
import io
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gs.sweep.tasks import TASK_FIELDS


def encode_png(image: Tensor) -> bytes:
    """``(3, H, W)`` float image -> 8-bit RGB PNG bytes of ``clamp(image, 0, 1)``."""
    from PIL import Image

    arr = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr.permute(1, 2, 0).cpu().numpy(), mode="RGB").save(buf, format="PNG")
    return buf.getvalue()


def decode_png(data: bytes) -> Tensor:
    """PNG bytes -> ``(3, H, W)`` float32 image in [0, 1] (inverse of :func:`encode_png`)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255


#: Column name -> SQLite type: ``key``, the task config, then metrics and provenance.
COLUMNS: dict[str, str] = {
    "key": "TEXT PRIMARY KEY",
    "model": "TEXT",
    "family": "TEXT",
    "image_set": "TEXT",
    "split": "TEXT",
    "image": "TEXT",
    "image_size": "INTEGER",
    "operator": "TEXT",
    "m": "INTEGER",
    "method": "TEXT",
    "cut": "INTEGER",
    "seed": "INTEGER",
    "steps": "INTEGER",
    "restarts": "INTEGER",
    "lr": "REAL",
    "init": "TEXT",
    "extra": "TEXT",
    "weights": "TEXT",
    "psnr": "REAL",
    "ssim": "REAL",
    "loss": "REAL",
    "seconds": "REAL",
    "batch_seconds": "REAL",
    "batch_size": "INTEGER",
    "n": "INTEGER",
    "ratio": "REAL",
    "noise_std": "REAL",
    "device": "TEXT",
    "gs_version": "TEXT",
    "torch_version": "TEXT",
    "timestamp": "TEXT",
    "hostname": "TEXT",
    "threads": "INTEGER",
    "lane_width": "INTEGER",
    "batch_invariant": "INTEGER",
    "diverged": "INTEGER",
    "details": "TEXT",
    "engine": "INTEGER",
}
assert set(TASK_FIELDS) <= set(COLUMNS), "every Task field needs a results column"


class ResultsStore:
    """Sweep results in one SQLite file (stdlib :mod:`sqlite3`, WAL journal).

    One table ``results`` with a row per task (``key`` primary key, the
    :data:`COLUMNS`). :meth:`add` writes a list of records in one transaction with
    ``INSERT OR IGNORE``, so a record is never duplicated and a batch is either fully
    stored or not at all. Write from one process (the one running the sweep); readers
    may look at the file at any time.

    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._memory = sqlite3.connect(":memory:") if self.path == ":memory:" else None
        with self._connection() as con:
            if self._memory is None:
                con.execute("PRAGMA journal_mode=WAL")
            self._migrate(con)

    @staticmethod
    def _migrate(con: sqlite3.Connection) -> None:
        """Create the tables, or add the columns an older version lacked, in one write
        transaction (``BEGIN IMMEDIATE`` takes the write lock first, so two processes
        opening an old store at once do not both add a column: the second waits, then
        finds it there)."""
        con.isolation_level = None  # explicit transactions
        con.execute("BEGIN IMMEDIATE")
        try:
            cols = ", ".join(f"{c} {t}" for c, t in COLUMNS.items())
            con.execute(f"CREATE TABLE IF NOT EXISTS results ({cols})")
            have = {row[1] for row in con.execute("PRAGMA table_info(results)")}
            for c, t in COLUMNS.items():  # stores written by older versions: add columns
                if c not in have:
                    con.execute(f"ALTER TABLE results ADD COLUMN {c} {t}")
            con.execute("CREATE TABLE IF NOT EXISTS images (key TEXT PRIMARY KEY, png BLOB)")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.isolation_level = ""

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection to the store, closed afterwards (the in-memory one is kept)."""
        if self._memory is not None:
            yield self._memory
            return
        con = sqlite3.connect(self.path, timeout=60)
        try:
            con.execute("PRAGMA synchronous=FULL")
            yield con
        finally:
            con.close()

    def _keys(self, table: str) -> set[str]:
        with self._connection() as con:
            return {k for (k,) in con.execute(f"SELECT key FROM {table}")}

    def done_keys(self) -> set[str]:
        """Keys of every stored record (of any engine version: :meth:`engines`)."""
        return self._keys("results")

    def engines(self) -> dict[str, int]:
        """The engine version of every stored record, by key (records from before the
        column count as 1)."""
        with self._connection() as con:
            return dict(con.execute("SELECT key, COALESCE(engine, 1) FROM results"))

    def drop(self, keys: Iterable[str]) -> int:
        """Delete the records (and images) of ``keys`` in one transaction; returns how
        many records went."""
        keys = [(k,) for k in keys]
        with self._connection() as con, con:
            before = con.total_changes
            con.executemany("DELETE FROM results WHERE key = ?", keys)
            dropped = con.total_changes - before
            con.executemany("DELETE FROM images WHERE key = ?", keys)
            return dropped

    def __len__(self) -> int:
        with self._connection() as con:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def add(self, records: Sequence[dict]) -> int:
        """Insert ``records`` (dicts with ``key`` and columns of :data:`COLUMNS`, and
        optionally ``image_png``) in one transaction; records whose key is stored already
        are ignored (their image is added if the store had none). Returns the number of
        new rows."""
        if not records:
            return 0
        for r in records:
            unknown = set(r) - set(COLUMNS) - {"image_png"}
            if unknown or "key" not in r:
                raise ValueError(f"record has unknown columns {sorted(unknown)} or no key")
            bad = [c for c in ("psnr", "ssim", "loss") if not _finite_or_perfect(c, r.get(c))]
            if bad:
                raise ValueError(f"record {r['key']} ({r.get('method')} on {r.get('image')!r}) "
                                 f"has non-finite {', '.join(bad)}: a failure, not a result")
        cols = list(COLUMNS)
        sql = (f"INSERT OR IGNORE INTO results ({', '.join(cols)}) "
               f"VALUES ({', '.join('?' for _ in cols)})")
        rows = [tuple(_sql_value(r.get(c)) for c in cols) for r in records]
        pngs = [(r["key"], r["image_png"]) for r in records if r.get("image_png")]
        with self._connection() as con, con:  # one transaction: all or nothing
            before = con.total_changes
            con.executemany(sql, rows)
            added = con.total_changes - before
            con.executemany("INSERT OR IGNORE INTO images (key, png) VALUES (?, ?)", pngs)
            return added

    def image_keys(self) -> set[str]:
        """Keys of the records that have a stored image."""
        return self._keys("images")

    def images(self, keys: Iterable[str]) -> dict[str, Tensor]:
        """The stored outputs ``(3, H, W)`` in [0, 1] (8-bit, clamped) by key.

        Raises KeyError naming the keys without an image (run their tasks with
        ``run_sweep(..., keep_images=True)``).
        """
        keys = list(dict.fromkeys(keys))
        found = {}
        with self._connection() as con:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                q = f"SELECT key, png FROM images WHERE key IN ({', '.join('?' * len(part))})"
                found.update(dict(con.execute(q, part).fetchall()))
        missing = [k for k in keys if k not in found]
        if missing:
            raise KeyError(f"{len(missing)} of {len(keys)} records have no stored image (first: "
                           f"{missing[0]}); run their tasks with run_sweep(..., keep_images=True)")
        return {k: decode_png(found[k]) for k in keys}

    def query(self, keys: Iterable[str] | None = None, **filters: Any):
        """Rows as a :class:`pandas.DataFrame`, optionally only ``keys`` and those whose
        columns equal the ``filters`` (a list or tuple value means "any of").

        >>> store.query(method="surgery", m=[100, 200])  # doctest: +SKIP
        """
        import pandas as pd

        where, args = [], []
        for col, val in filters.items():
            if col not in COLUMNS:
                raise ValueError(f"unknown column {col!r}; columns: {list(COLUMNS)}")
            if isinstance(val, list | tuple | set):
                val = list(val)
                where.append(f"{col} IN ({', '.join('?' for _ in val)})")
                args += val
            elif val is None:
                where.append(f"{col} IS NULL")
            else:
                where.append(f"{col} = ?")
                args.append(val)
        sql = f"SELECT {', '.join(COLUMNS)} FROM results"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._connection() as con:
            df = pd.read_sql_query(sql + " ORDER BY rowid", con, params=args)
        for col, typ in COLUMNS.items():  # consistent dtypes, even for all-NULL columns
            if typ == "REAL":
                df[col] = df[col].astype("float64")
            elif typ == "INTEGER" and df[col].isna().any():
                df[col] = df[col].astype("Int64")
        if keys is not None:
            order = {k: i for i, k in enumerate(dict.fromkeys(keys))}
            df = df[df["key"].isin(order)]
            df = df.iloc[df["key"].map(order).argsort()].reset_index(drop=True)
        return df

    def to_frame(self):
        """Every row, as a :class:`pandas.DataFrame` (insertion order)."""
        return self.query()

    def __repr__(self) -> str:
        return f"ResultsStore({self.path!r}, {len(self)} records)"


def _sql_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _finite_or_perfect(column: str, v: Any) -> bool:
    """Metrics must be finite numbers; PSNR may be +inf (a perfect reconstruction)."""
    if not isinstance(v, int | float) or isinstance(v, bool) or math.isnan(v):
        return False
    return math.isfinite(v) or (column == "psnr" and v > 0)


def default_store_path(profile: str) -> Path:
    """Where a profile's results store lives: ``OUTPUT_DIR/results/<profile>.sqlite``
    (:mod:`gs.paths`); a path, so a caller can ask whether it exists before opening (and
    so creating) it."""
    from gs.paths import OUTPUT_DIR

    return OUTPUT_DIR / "results" / f"{profile}.sqlite"


def default_store(profile: str, path: str | Path | None = None) -> ResultsStore:
    """The results store of a profile: :func:`default_store_path` unless ``path``.

    Every notebook of a profile shares it, so a result computed once (e.g. surgery at the
    chosen cut) is reused by every figure that shows it.
    """
    return ResultsStore(Path(path) if path else default_store_path(profile))
