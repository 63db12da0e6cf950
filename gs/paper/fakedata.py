"""Paper-shaped fake data: small archives laid out exactly like CelebA's and COCO's.

* :func:`write_celeba` writes ``img_align_celeba.zip`` holding
  ``img_align_celeba/000001.jpg`` onwards, 178 x 218 JPEGs (the aligned-and-cropped
  layout): each is a shipped face photo (``data/faces``; mirrored or brightened for the
  later ones) placed where the paper's crop takes it (top 51, left 26, 128 x 128), on a
  blurred surround. Beside the archive, ``list_eval_partition.txt`` gives the official
  three splits (0 train, 1 validation, 2 test) in CelebA's proportions; the package does
  not read it (the paper splits 95:5 by file name), it is there as the real download has it.
* :func:`write_coco` writes ``test2017.zip`` holding ``test2017/000000000001.jpg``
  onwards, made from the shipped scene photos (``data/scenes``) at varied sizes and aspect
  ratios (landscape, portrait, square, up to 640 px), including the kinds of member the real
  set has besides 8-bit RGB JPEGs: grayscale and CMYK JPEGs; and one 16-bit grayscale PNG,
  which must be scaled to 8 bits, not clipped.
* :func:`write_sources` writes the ``$GS_DATA_SOURCES`` file that points
  :func:`gs.data.download` at these archives (their URL on a server, md5, file count and
  small test / validation draws).

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> celeba, coco = write_celeba(d, 40), write_coco(d, 12)
>>> celeba.n_images, coco.n_images, celeba.path.name, coco.path.name
(40, 12, 'img_align_celeba.zip', 'test2017.zip')
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from gs.data.paper import CELEBA_CROP, CELEBA_SHAPE, SOURCES
from gs.paths import DATA_DIR

#: CelebA's official partition sizes (train, validation, test) of its 202,599 images.
CELEBA_PARTITION = (162_770, 19_867, 19_962)

#: Sizes (width, height) the fake COCO images cycle through: COCO's usual 640-px long side
#: in both orientations, and odd shapes.
COCO_SIZES = ((640, 480), (480, 640), (640, 427), (427, 640), (500, 500), (640, 360),
              (333, 500), (612, 612))


@dataclass(frozen=True)
class FakeArchive:
    """A written fake archive: its path, md5, the number of images and the set."""

    kind: str
    path: Path
    md5: str
    n_images: int


def _photos(kind: str) -> list[Path]:
    files = sorted((DATA_DIR / kind).glob("*/*.png"))
    if not files:
        raise FileNotFoundError(f"no shipped {kind} photos under {DATA_DIR / kind}")
    return files


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, **kw)
    return buf.getvalue()


def _write_zip(path: Path, members: list[tuple[str, bytes]]) -> str:
    """Write ``members`` to the zip ``path`` atomically (stored: JPEGs do not deflate);
    returns its md5."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
        folder = members[0][0].split("/")[0] + "/"
        z.writestr(folder, b"")  # the real archives list their folder first
        for name, blob in members:
            z.writestr(name, blob)
    os.replace(tmp, path)
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def celeba_image(photo: Image.Image, variant: int) -> Image.Image:
    """A 178 x 218 aligned-CelebA-shaped image whose paper crop is ``photo`` (128 px),
    mirrored for odd ``variant`` and brightened a little for later ones."""
    face = photo.convert("RGB").resize((CELEBA_CROP[2],) * 2, Image.BILINEAR)
    if variant % 2:
        face = ImageOps.mirror(face)
    face = ImageEnhance.Brightness(face).enhance(1.0 + 0.05 * ((variant // 2) % 4))
    w, h = CELEBA_SHAPE
    canvas = face.resize((w, h), Image.BILINEAR).filter(ImageFilter.GaussianBlur(6))
    top, left, _ = CELEBA_CROP
    canvas.paste(face, (left, top))
    return canvas


def write_celeba(out: str | Path, n: int = 80) -> FakeArchive:
    """``out/img_align_celeba.zip`` with ``n`` aligned-CelebA-shaped JPEGs, and
    ``out/list_eval_partition.txt``. With the paper's 95:5 split by name, the last
    ``int(0.05 n)`` files are the held-out candidates of the test / validation draw."""
    if n < 20:
        raise ValueError(f"a fake CelebA needs at least 20 images (1 held out), got {n}")
    out = Path(out)
    photos = [Image.open(p).convert("RGB") for p in _photos("faces")]
    src = SOURCES["celeba"]
    members = [(f"{src.folder}/{i:06d}.jpg",
                _jpeg(celeba_image(photos[(i - 1) % len(photos)], (i - 1) // len(photos))))
               for i in range(1, n + 1)]
    md5 = _write_zip(out / src.zip_name, members)
    bounds = np.cumsum(CELEBA_PARTITION) / sum(CELEBA_PARTITION) * n
    lines = [f"{i:06d}.jpg {int(np.searchsorted(bounds, i - 0.5, side='right'))}\n"
             for i in range(1, n + 1)]
    part = out / "list_eval_partition.txt"
    part.with_name(part.name + ".tmp").write_text("".join(lines))
    os.replace(part.with_name(part.name + ".tmp"), part)
    return FakeArchive("celeba", out / src.zip_name, md5, n)


def coco_image(photo: Image.Image, i: int) -> tuple[str, bytes]:
    """Member ``i`` (from 1) of the fake COCO: its file name and bytes. Every 7th is
    grayscale, every 11th CMYK; the others RGB at the sizes of :data:`COCO_SIZES`."""
    w, h = COCO_SIZES[(i - 1) % len(COCO_SIZES)]
    img = photo.convert("RGB").resize((w, h), Image.BILINEAR)
    name = f"{i:012d}.jpg"
    if i % 7 == 0:
        return name, _jpeg(img.convert("L"))
    if i % 11 == 0:
        return name, _jpeg(img.convert("CMYK"))
    return name, _jpeg(img)


def sixteen_bit_png(photo: Image.Image) -> bytes:
    """A 16-bit grayscale PNG of ``photo`` (values up to 65535)."""
    a = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def write_coco(out: str | Path, n: int = 24) -> FakeArchive:
    """``out/test2017.zip`` with ``n`` COCO-test-shaped images: JPEGs of varied sizes,
    grayscale and CMYK among them, and (last) one 16-bit PNG."""
    if n < 12:
        raise ValueError(f"a fake COCO needs at least 12 images (all kinds), got {n}")
    out = Path(out)
    photos = [Image.open(p).convert("RGB") for p in _photos("scenes")]
    src = SOURCES["coco"]
    members = [(f"{src.folder}/{name}", blob) for name, blob in
               (coco_image(photos[(i - 1) % len(photos)], i) for i in range(1, n))]
    members.append((f"{src.folder}/{n:012d}.png", sixteen_bit_png(photos[(n - 1) % len(photos)])))
    return FakeArchive("coco", out / src.zip_name, _write_zip(out / src.zip_name, members), n)


def write_sources(path: str | Path, archives: dict[str, FakeArchive], urls: dict[str, str],
                  n_test: int = 2, n_val: int = 2) -> Path:
    """The ``$GS_DATA_SOURCES`` file for ``archives`` served at ``urls`` (by set), with
    test / validation draws of ``n_test`` / ``n_val`` images. Written atomically."""
    path = Path(path)
    body = {kind: {"url": urls[kind], "md5": a.md5, "n_images": a.n_images,
                   "n_test": n_test, "n_val": n_val, "page": "the rehearsal's fake data"}
            for kind, a in archives.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2))
    os.replace(tmp, path)
    return path
