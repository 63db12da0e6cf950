"""``python -m gs recover``: one photo in, a comparison figure, images and numbers out;
bad input stops with exit status 2 and one line naming the problem.

Recoveries use the shipped DCGAN with one L-BFGS step, one restart, its cheapest cuts and
a few Lasso-DCT iterations, so each run takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from gs import zoo
from gs.cli import main
from gs.paths import REPO_ROOT

MODEL = "dcgan64-digiface"
PHOTO = REPO_ROOT / "data" / "faces" / "test" / "biden.png"
FAST = ["--steps", "1", "--restarts", "1", "--lasso-iters", "5"]
needs_dcgan = pytest.mark.skipif(not zoo.available(MODEL), reason=f"{MODEL} is not installed")


@pytest.fixture
def own_jpeg(tmp_path):
    """A 'photo of the user's own': a non-square JPEG (smooth colours)."""
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (6, 10, 3), dtype=np.uint8)
    path = tmp_path / "mine.jpg"
    Image.fromarray(small).resize((100, 60), Image.BILINEAR).save(path, quality=90)
    return path


@needs_dcgan
def test_recover_a_shipped_photo_with_the_cut_from_the_measurements(tmp_path, capsys):
    out = tmp_path / "result"
    assert main(["recover", str(PHOTO), "--model", MODEL, "--ratio", "0.05", "--cut", "auto",
                 "--cuts", "3", "4", "--out", str(out), *FAST]) == 0
    for name in ("comparison.png", "comparison.pdf", "comparison.csv", "original.png",
                 "surgery.png", "no_surgery.png", "lasso_dct.png", "results.json"):
        assert (out / name).is_file(), name
    assert not (out / "measurements.png").exists()  # Gaussian measurements are no image
    assert not list(out.glob(".*"))  # no temporary file left behind
    summary = json.loads((out / "results.json").read_text())
    assert summary["m"] == round(0.05 * 12288) and summary["image_size"] == 64
    assert summary["chosen_cut"] in (3, 4) and set(summary["heldout_residual"]) == {"3", "4"}
    by_method = {r["method"]: r for r in summary["results"]}
    assert set(by_method) == {"surgery", "no_surgery", "lasso_dct"}
    assert by_method["surgery"]["cut"] == summary["chosen_cut"]
    assert all(np.isfinite(r["psnr"]) and 0 < r["ssim"] <= 1 for r in summary["results"])
    with Image.open(out / "original.png") as im:
        assert im.size == (64, 64)
    printed = capsys.readouterr().out
    assert "held-out residual" in printed and "done in" in printed


@needs_dcgan
def test_recover_an_own_jpeg_with_super_resolution_at_a_given_cut(tmp_path, own_jpeg):
    out = tmp_path / "sr"
    assert main(["recover", str(own_jpeg), "--operator", "sr", "--cut", "4", "--out",
                 str(out), *FAST]) == 0
    summary = json.loads((out / "results.json").read_text())
    assert summary["photo_size"] == [100, 60] and summary["m"] == 3 * 16 * 16
    assert summary["results"][0]["cut"] == 4 and "chosen_cut" not in summary
    with Image.open(out / "measurements.png") as im:  # the low-resolution image, shown
        assert im.size == (64, 64)


def test_python_dash_m_gs_dispatches_to_recover():
    proc = subprocess.run([sys.executable, "-m", "gs", "recover", "--help"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "centre-cropped" in proc.stdout and "--cut" in proc.stdout


def _error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(["recover", *argv])
    assert exc.value.code == 2
    return capsys.readouterr().err


@pytest.fixture
def tiny_png(tmp_path):
    path = tmp_path / "tiny.png"
    Image.new("RGB", (40, 20), (200, 100, 50)).save(path)
    return path


@pytest.fixture
def not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not an image")
    return path


@needs_dcgan
def test_bad_photos_are_named(capsys, tmp_path, tiny_png, not_an_image):
    assert "no such file" in _error(capsys, str(tmp_path / "missing.jpg"))
    assert "is a folder" in _error(capsys, str(tmp_path))
    assert "cannot read" in _error(capsys, str(not_an_image))
    assert "is 40x20 px; its shorter side must be at least 32 px" in _error(capsys,
                                                                            str(tiny_png))


def test_an_unknown_model_lists_the_known_ones(capsys):
    err = _error(capsys, str(PHOTO), "--model", "stylegan")
    assert "unknown model 'stylegan'; known models:" in err and MODEL in err


@needs_dcgan
@pytest.mark.parametrize("argv, message", [
    (["--ratio", "0"], "--ratio must be in (0, 1], got 0.0"),
    (["--ratio", "1.5"], "--ratio must be in (0, 1], got 1.5"),
    (["--ratio", "nan"], "--ratio must be in (0, 1]"),
    (["--ratio", "0.0001"], "gives 1 measurement(s) of n = 12288; at least 2 are needed"),
    (["--operator", "inpainting", "--ratio", "0.0001"], "keeps 1 pixel value(s)"),
    (["--operator", "sr", "--ratio", "0.1"], "--ratio does not apply to sr"),
    (["--operator", "deblur"], "unknown operator 'deblur'; choose one of cs, inpainting, sr"),
    (["--cut", "9"], "cut 9 is out of range for dcgan"),
    (["--cut", "deep"], "--cut must be 'auto' or a cut index, got 'deep'"),
    (["--cuts", "0", "7"], "cut 7 is out of range"),
    (["--steps", "0"], "--steps must be at least 1"),
])
def test_impossible_settings_are_named(capsys, argv, message):
    assert message in _error(capsys, str(PHOTO), *FAST[:4], *argv)  # argv wins


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "taken"
    path.write_text("already here")
    return path


def test_devices_this_torch_cannot_use_are_named(capsys):
    err = _error(capsys, str(PHOTO), "--device", "tpu")
    assert "cannot use --device 'tpu' here" in err and "Traceback" not in err
    assert "cannot use --device 'meta' here" in _error(capsys, str(PHOTO), "--device", "meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="cuda works here")
def test_cuda_on_a_cpu_only_torch_is_named(capsys):
    err = _error(capsys, str(PHOTO), "--device", "cuda")
    assert "cannot use --device 'cuda' here" in err and len(err.strip().splitlines()) == 1


def test_an_out_that_is_a_file_is_named(capsys, a_file):
    assert f"{a_file} is a file, not a folder" in _error(capsys, str(PHOTO), "--out",
                                                          str(a_file))
    inside = a_file / "result"  # a folder inside a file cannot be made either
    assert f"{a_file} is a file, not a folder" in _error(capsys, str(PHOTO), "--out",
                                                          str(inside))


def test_cuts_without_cut_auto_is_an_error(capsys):
    err = _error(capsys, str(PHOTO), "--cut", "2", "--cuts", "0", "1")
    assert "--cuts only applies with --cut auto (got --cut 2)" in err


def test_help_names_the_other_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for command in ("gs.notebooks (run the notebooks)", "gs.figures", "gs.results",
                    "gs.paper", "gs.data", "gs.train"):
        assert f"python -m {command}" in text, command
