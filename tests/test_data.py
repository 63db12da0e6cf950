"""Tests of gs.data: the shipped offline sets, the paper's CelebA / COCO pipelines on fake
trees, the download checks on fake files (never the network), and the contact sheet."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gs import data

EXPECTED_COUNTS = {("faces", "test"): 21, ("faces", "val"): 7,
                   ("scenes", "test"): 30, ("scenes", "val"): 10}


def _save(path: Path, arr: np.ndarray) -> Path:
    """Save an (H, W, 3) uint8 array losslessly (PNG data, whatever the file suffix: PIL
    reads by content, so the crop tests are exact even for '.jpg' names)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format="PNG")
    return path


# ==========================================================================================
# load_image
# ==========================================================================================


def test_load_image_center_crops_wide_and_tall(tmp_path):
    wide = np.zeros((20, 30, 3), np.uint8)
    wide[:, :5] = (255, 0, 0)
    wide[:, 5:25] = (0, 255, 0)
    wide[:, 25:] = (0, 0, 255)
    x = data.load_image(_save(tmp_path / "wide.png", wide), 20)
    assert x.shape == (3, 20, 20) and x.dtype == torch.float32
    assert torch.equal(x, torch.tensor([0.0, 1.0, 0.0]).view(3, 1, 1).expand(3, 20, 20))

    tall = np.zeros((40, 16, 3), np.uint8)
    tall[12:28] = 200
    y = data.load_image(_save(tmp_path / "tall.png", tall), 16)
    assert torch.allclose(y, torch.full((3, 16, 16), 200 / 255))


def test_load_image_resizes_with_pil_bilinear(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    p = _save(tmp_path / "r.png", arr)
    x = data.load_image(p, 24)
    ref = np.asarray(Image.fromarray(arr).resize((24, 24), Image.BILINEAR), np.float32) / 255
    assert torch.allclose(x, torch.from_numpy(ref).permute(2, 0, 1))
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


@pytest.mark.parametrize("bad", [0, -3, 2.5, "64", True])
def test_load_image_rejects_bad_size(tmp_path, bad):
    p = _save(tmp_path / "a.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="size"):
        data.load_image(p, bad)


# ==========================================================================================
# The shipped offline sets
# ==========================================================================================


@pytest.mark.parametrize("kind,split", sorted(EXPECTED_COUNTS))
@pytest.mark.parametrize("size", [64, 128])
def test_offline_sets(kind, split, size):
    s = data.load_offline(kind, split, size)
    n = EXPECTED_COUNTS[(kind, split)]
    assert len(s) == n and s.images.shape == (n, 3, size, size)
    assert s.images.dtype == torch.float32
    assert float(s.images.min()) >= 0.0 and float(s.images.max()) <= 1.0
    assert len(set(s.names)) == n
    # spread over source photos: the first k images come from k different photos
    src = {r["name"]: r["source_sha256"] for r in _manifest()
           if r["set"] == kind and r["split"] == split}
    n_photos = len(set(src.values()))
    assert len({src[name] for name in s.names[:n_photos]}) == n_photos
    assert data.load_offline(kind, split, size, limit=3).names == s.names[:3]
    assert (s.kind, s.split, s.size) == (kind, split, size)
    assert float(s.images.std()) > 0.05  # real photos, not blank


def test_offline_64_is_bilinear_resize_of_128():
    big = data.load_offline("faces", "val", 128, limit=2)
    small = data.load_offline("faces", "val", 64, limit=2)
    f = data.DATA_DIR / "faces" / "val" / f"{small.names[0]}.png"
    ref = np.asarray(Image.open(f).convert("RGB").resize((64, 64), Image.BILINEAR)) / 255
    assert torch.allclose(small.images[0], torch.from_numpy(ref).permute(2, 0, 1).float())
    assert big.names == small.names


def test_offline_deterministic_limit_and_subset():
    a = data.load_offline("scenes", "val", 32)
    b = data.load_offline("scenes", "val", 32)
    assert a.names == b.names and torch.equal(a.images, b.images)
    c = data.load_offline("scenes", "val", 32, limit=3)
    assert c.names == a.names[:3] and torch.equal(c.images, a.images[:3])
    d = a.subset(3)
    assert d.names == c.names and torch.equal(d.images, c.images) and len(d) == 3
    with pytest.raises(ValueError, match="subset"):
        a.subset(len(a) + 1)


@pytest.mark.parametrize("kwargs,match", [
    ({"kind": "celebs"}, "unknown offline set"),
    ({"kind": "faces", "split": "train"}, "unknown split"),
    ({"kind": "faces", "size": 256}, "size"),
    ({"kind": "faces", "size": 0}, "size"),
    ({"kind": "faces", "limit": 0}, "positive"),
])
def test_offline_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load_offline(**kwargs)


def test_offline_missing_folder_says_how_to_rebuild(tmp_path, monkeypatch):
    monkeypatch.setattr(data.offline, "DATA_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="build-offline"):
        data.load_offline("faces")


def _manifest() -> list[dict]:
    with open(data.DATA_DIR / "MANIFEST.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_manifest_covers_every_file_and_every_row_exists():
    rows = [r for r in _manifest() if r["set"] != "weights"]
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths))
    on_disk = {p.relative_to(data.DATA_DIR).as_posix() for p in data.DATA_DIR.rglob("*")
               if p.is_file() and p.name != "MANIFEST.csv"}
    assert on_disk == set(paths)
    images = [r for r in rows if r["set"] in ("faces", "scenes")]
    assert len(images) == sum(EXPECTED_COUNTS.values())
    for r in images:
        assert r["path"] == f"{r['set']}/{r['split']}/{r['name']}.png"
        for key in ("source_package", "version", "path_in_package", "licence", "attribution"):
            assert r[key], (r["path"], key)
        assert len(r["source_sha256"]) == 64
        assert int(r["crop_size"]) >= 64 and int(r["crop_left"]) >= 0 and int(r["crop_top"]) >= 0
        with Image.open(data.DATA_DIR / r["path"]) as im:
            assert im.size == (128, 128) and im.mode == "RGB"


def test_manifest_lists_every_shipped_checkpoint_with_its_sha256_and_licence():
    from gs import zoo

    rows = {r["name"]: r for r in _manifest() if r["set"] == "weights"}
    shipped = {p.name for p in zoo.ZOO_DIR.glob("*.pt")}
    assert {Path(r["path"]).name for r in rows.values()} == shipped
    assert set(rows) == {e.name for e in zoo.shipped_entries()}
    for name, r in rows.items():
        path = data.DATA_DIR / r["path"]
        assert path.is_file() and path.parent.name == "zoo"
        assert r["source_sha256"] == zoo.sha256sum(path) == zoo.get(name).sha256
        assert r["licence"] and "python -m gs.train" in r["attribution"]
    assert rows == {r["name"]: r for r in zoo.manifest_rows()}  # regenerated = committed


def test_manifest_no_source_photo_in_both_splits():
    rows = [r for r in _manifest() if r["set"] in ("faces", "scenes")]
    for kind in ("faces", "scenes"):
        src = {s: {(r["source_package"], r["path_in_package"]) for r in rows
                   if r["set"] == kind and r["split"] == s} for s in ("test", "val")}
        assert src["test"] and src["val"] and not src["test"] & src["val"]


def test_manifest_licences_are_clear():
    allowed = {"public-domain", "CC0-1.0", "CC-BY-2.0", "MIT", "GPL-2+"}
    rows = [r for r in _manifest() if r["set"] in ("faces", "scenes")]
    assert {r["licence"] for r in rows} <= allowed
    assert (data.DATA_DIR / "LICENSES" / "README.md").is_file()


# ==========================================================================================
# CelebA on a fake tree
# ==========================================================================================


def _fake_celeba(root: Path, n: int) -> Path:
    """``n`` aligned 178x218 'CelebA' files: black outside the paper's crop, a per-file
    grey level inside it, so any wrong crop offset shows up as black pixels."""
    folder = root / "celeba" / data.CELEBA_DIR
    top, left, s = data.CELEBA_CROP
    for i in range(1, n + 1):
        a = np.zeros((218, 178, 3), np.uint8)
        a[top:top + s, left:left + s] = 50 + i % 200
        _save(folder / f"{i:06d}.jpg", a)
    return folder


def test_celeba_held_out_and_split_at_paper_scale():
    names = [f"{i:06d}.jpg" for i in range(data.CELEBA_N_IMAGES, 0, -1)]  # unsorted on purpose
    held = data.celeba_held_out(names)
    assert len(held) == 10_129 and held[0] == "192471.jpg" and held[-1] == "202599.jpg"
    test = data.paper_split(held, "test")
    val = data.paper_split(held, "val")
    assert len(test) == 100 and len(val) == 20 and not set(test) & set(val)
    assert set(test) | set(val) <= set(held)
    assert test == sorted(test) and data.paper_split(held, "test") == test
    assert data.paper_split(held, "test", seed=1) != test


def test_load_celeba_fake_tree(tmp_path):
    _fake_celeba(tmp_path, 200)  # 5 % held out = 10 files: 000191 ... 000200
    kw = {"n_test": 6, "n_val": 3, "expect_count": None}
    t = data.load_celeba(tmp_path, "test", 64, **kw)
    v = data.load_celeba(tmp_path, "val", 128, **kw)
    assert t.images.shape == (6, 3, 64, 64) and v.images.shape == (3, 3, 128, 128)
    assert not set(t.names) & set(v.names)
    assert all(191 <= int(nm) <= 200 for nm in t.names + v.names)
    assert t.names == sorted(t.names)
    for s in (t, v):  # exactly the crop: uniform, never the black surround
        for img, nm in zip(s.images, s.names, strict=True):
            assert torch.allclose(img, torch.full_like(img, (50 + int(nm) % 200) / 255))
    again = data.load_celeba(tmp_path, "test", 64, **kw)
    assert again.names == t.names and torch.equal(again.images, t.images)
    assert data.load_celeba(tmp_path, "test", 64, n=2, **kw).names == t.names[:2]


def test_celeba_crop_box_is_top51_left26():
    a = np.arange(218 * 178 * 3, dtype=np.int64).reshape(218, 178, 3) % 251
    img = Image.fromarray(a.astype(np.uint8))
    out = np.asarray(data.celeba_crop(img))
    assert out.shape == (128, 128, 3)
    assert np.array_equal(out, a[51:179, 26:154].astype(np.uint8))


def test_load_celeba_checks_count_and_shape(tmp_path):
    folder = _fake_celeba(tmp_path, 130)
    with pytest.raises(ValueError, match="expected 202599"):
        data.load_celeba(tmp_path, "test", 64)
    _save(folder / "000130.jpg", np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="178x218"):
        data.load_celeba_image(folder / "000130.jpg", 64)
    with pytest.raises(ValueError, match="size"):
        data.load_celeba(tmp_path, "test", 256, n_test=2, n_val=1, expect_count=None)


# ==========================================================================================
# COCO on a fake tree
# ==========================================================================================


def _fake_coco(root: Path, n: int) -> Path:
    folder = root / "coco" / data.COCO_DIR
    for i in range(n):
        w, h = (60, 40) if i % 2 else (30, 50)  # landscape and portrait
        a = np.zeros((h, w, 3), np.uint8)  # black margins, grey central square
        s = min(w, h)
        l0, t0 = (w - s) // 2, (h - s) // 2
        a[t0:t0 + s, l0:l0 + s] = 10 + i
        _save(folder / f"{i:012d}.jpg", a)
    return folder


def test_load_coco_fake_tree(tmp_path):
    _fake_coco(tmp_path, 30)
    kw = {"n_test": 5, "n_val": 3, "expect_count": None}
    t = data.load_coco(tmp_path, "test", 16, **kw)
    v = data.load_coco(tmp_path, "val", 16, **kw)
    assert t.images.shape == (5, 3, 16, 16) and v.images.shape == (3, 3, 16, 16)
    assert not set(t.names) & set(v.names) and t.names == sorted(t.names)
    for img, nm in zip(t.images, t.names, strict=True):
        assert torch.allclose(img, torch.full_like(img, (10 + int(nm)) / 255))
    assert data.load_coco(tmp_path, "test", 16, **kw).names == t.names
    with pytest.raises(ValueError, match="expected 40670"):
        data.load_coco(tmp_path, "test", 16)


def test_load_image_set_dispatch_and_missing_paper_data(tmp_path, monkeypatch):
    s = data.load_image_set("faces", "val", 32, n=2)
    assert s.kind == "faces" and s.images.shape == (2, 3, 32, 32)
    for name in ("celeba", "coco"):
        with pytest.raises(FileNotFoundError, match=f"python -m gs.data download {name}"):
            data.load_image_set(name, "test", 64, root=tmp_path)
    monkeypatch.setenv("GS_DATA_ROOT", str(tmp_path / "env"))
    assert data.default_root() == tmp_path / "env"
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "env")):
        data.load_image_set("celeba")
    with pytest.raises(ValueError, match="unknown image set"):
        data.load_image_set("imagenet")


# ==========================================================================================
# Download checks on fake files (no network)
# ==========================================================================================

QUOTA_PAGE = b"""<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head>
<body>Sorry, you can't view or download this file at this time. Too many users have viewed
or downloaded this file recently.</body></html>"""


def _zip_bytes(n: int = 20) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(n):
            z.writestr(f"img_align_celeba/{i:06d}.jpg", np.random.default_rng(i).bytes(2000))
    return buf.getvalue()


def test_check_archive_html_quota_page(tmp_path):
    p = tmp_path / "img_align_celeba.zip"
    p.write_bytes(QUOTA_PAGE)
    with pytest.raises(data.DownloadError, match="HTML page.*quota") as e:
        data.check_archive(p, data.CELEBA_MD5, how_to_fix="place it by hand")
    assert "place it by hand" in str(e.value)


def test_check_archive_truncated_zip(tmp_path):
    blob = _zip_bytes()
    p = tmp_path / "a.zip"
    p.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(data.DownloadError, match="truncated"):
        data.check_archive(p)
    p.write_bytes(b"")
    with pytest.raises(data.DownloadError, match="empty"):
        data.check_archive(p)
    with pytest.raises(FileNotFoundError):
        data.check_archive(tmp_path / "nope.zip")


def test_check_archive_md5(tmp_path):
    blob = _zip_bytes()
    p = tmp_path / "a.zip"
    p.write_bytes(blob)
    data.check_archive(p, hashlib.md5(blob).hexdigest(), test_crc=True)  # good file passes
    with pytest.raises(data.ChecksumError, match="refusing"):
        data.check_archive(p, "0" * 32)


def test_check_archive_crc(tmp_path):
    blob = bytearray(_zip_bytes(3))
    blob[100] ^= 0xFF  # flip a byte of the first member's data
    p = tmp_path / "a.zip"
    p.write_bytes(bytes(blob))
    with pytest.raises(data.DownloadError, match="CRC|corrupt"):
        data.check_archive(p, test_crc=True)


def _fake_gdown(monkeypatch, payload: bytes) -> list[dict]:
    calls: list[dict] = []

    def download(**kw):
        calls.append(kw)
        Path(kw["output"]).write_bytes(payload)
        return kw["output"]

    monkeypatch.setitem(sys.modules, "gdown", types.SimpleNamespace(download=download))
    return calls


def _sources(tmp_path, monkeypatch, **celeba) -> None:
    f = tmp_path / "sources.json"
    f.write_text(json.dumps({"celeba": celeba}))
    monkeypatch.setenv("GS_DATA_SOURCES", str(f))


def test_download_verifies_and_extracts_hand_placed_zip_without_fetching(tmp_path, monkeypatch):
    blob = _zip_bytes(5)
    zp = tmp_path / "celeba" / data.CELEBA_ZIP
    zp.parent.mkdir(parents=True)
    zp.write_bytes(blob)
    _sources(tmp_path, monkeypatch, md5=hashlib.md5(blob).hexdigest(), n_images=5,
             url="http://127.0.0.1:9/nothing-listens-here")
    folder = data.download_celeba(tmp_path, quiet=True)
    assert sorted(p.name for p in folder.iterdir()) == [f"{i:06d}.jpg" for i in range(5)]
    record = json.loads((tmp_path / "celeba" / "img_align_celeba.verified.json").read_text())
    assert record["files"] == {f"{i:06d}.jpg": 2000 for i in range(5)}


def test_hand_placed_zip_with_the_wrong_md5_is_set_aside(tmp_path, monkeypatch):
    zp = tmp_path / "celeba" / data.CELEBA_ZIP
    zp.parent.mkdir(parents=True)
    zp.write_bytes(_zip_bytes(5))
    _sources(tmp_path, monkeypatch, md5="0" * 32, n_images=5,
             url="http://127.0.0.1:9/nothing-listens-here")
    monkeypatch.setattr(data.download, "BACKOFF_S", 0.0)
    with pytest.raises(data.DownloadError, match="by hand"):  # then the fetch fails
        data.download_celeba(tmp_path, quiet=True)
    assert zp.with_name(zp.name + ".bad").is_file() and not (zp.parent / data.CELEBA_DIR).exists()


def test_an_unknown_drive_page_falls_back_to_gdown(tmp_path, monkeypatch):
    page = b"<!DOCTYPE html><html><body>Something new from Drive</body></html>"

    def urlopen(req, timeout=None):
        return _FakeResponse(page, 200, {"Content-Type": "text/html"})

    monkeypatch.setattr(data.download.urllib.request, "urlopen", urlopen)
    calls = _fake_gdown(monkeypatch, b"the file")
    url = "https://drive.google.com/uc?id=abc&export=download"
    assert data.http_download(url, tmp_path / "f.zip", quiet=True).read_bytes() == b"the file"
    assert calls[0]["url"] == url and calls[0]["resume"] is True
    with pytest.raises(data.DownloadError, match="HTML page"):  # other hosts: no fallback
        data.http_download("https://example.org/f.zip", tmp_path / "g.zip", quiet=True)


class _FakeResponse(io.BytesIO):
    def __init__(self, body: bytes, status: int, headers: dict):
        super().__init__(body)
        self.status, self.headers = status, headers


def test_http_download_resumes_with_range(tmp_path, monkeypatch):
    full = bytes(range(256)) * 40
    dest = tmp_path / "test2017.zip"
    (tmp_path / "test2017.zip.part").write_bytes(full[:1000])
    seen = []

    def urlopen(req, timeout=None):
        rng = req.get_header("Range")
        seen.append(rng)
        start = int(rng.split("=")[1].rstrip("-"))
        return _FakeResponse(full[start:], 206, {
            "Content-Range": f"bytes {start}-{len(full) - 1}/{len(full)}",
            "Content-Type": "application/zip"})

    monkeypatch.setattr(data.download.urllib.request, "urlopen", urlopen)
    data.http_download("http://example.invalid/test2017.zip", dest, chunk=333, quiet=True)
    assert seen == ["bytes=1000-"] and dest.read_bytes() == full
    assert not (tmp_path / "test2017.zip.part").exists()


def test_http_download_detects_short_and_html(tmp_path, monkeypatch):
    full = b"x" * 5000

    def short(req, timeout=None):
        return _FakeResponse(full[:3000], 200, {"Content-Length": "5000"})

    monkeypatch.setattr(data.download.urllib.request, "urlopen", short)
    with pytest.raises(data.DownloadError, match="dropped before the end.*2 attempts"):
        data.http_download("http://example.invalid/f.zip", tmp_path / "f.zip", quiet=True,
                           retries=2, backoff=0)
    assert (tmp_path / "f.zip.part").stat().st_size == 3000  # kept for resuming

    def html(req, timeout=None):
        return _FakeResponse(QUOTA_PAGE, 200, {"Content-Type": "text/html; charset=utf-8"})

    monkeypatch.setattr(data.download.urllib.request, "urlopen", html)
    with pytest.raises(data.DownloadError, match="quota exceeded.*24 h"):
        data.http_download("http://example.invalid/g.zip", tmp_path / "g.zip", quiet=True)


# ==========================================================================================
# Contact sheet
# ==========================================================================================


def test_contact_sheet_writes_png_pdf_csv(tmp_path):
    s = data.load_offline("faces", "val", 32, limit=3)
    paths = data.contact_sheet(s.images, s.names, tmp_path / "sheet", ncols=2,
                               groups=["a", "a", "b"])
    assert sorted(p.suffix for p in paths) == [".csv", ".pdf", ".png"]
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(ValueError, match="names"):
        data.contact_sheet(s.images, s.names[:2], tmp_path / "bad")


# ==========================================================================================
# Real paper data (only where it has been downloaded)
# ==========================================================================================


@pytest.mark.requires_download
@pytest.mark.parametrize("name", ["celeba", "coco"])
def test_real_paper_sets(name):
    root = data.default_root()
    if not (root / name).exists():
        pytest.skip(f"run `python -m gs.data download {name}` first")
    t = data.load_image_set(name, "test", 64)
    v = data.load_image_set(name, "val", 64)
    assert len(t) == data.N_TEST and len(v) == data.N_VAL and not set(t.names) & set(v.names)
    assert float(t.images.min()) >= 0 and float(t.images.max()) <= 1
