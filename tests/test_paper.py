"""The paper profile's path: paper-shaped fake archives, downloads through the real code
against a local server (Drive's pages, drops, resets, truncation, timeouts), checkpoints
users bring, and the rehearsal of ``python -m gs.paper`` end to end (marked
``rehearsal``: ``pytest -m rehearsal`` runs it alone, ``-m "not rehearsal"`` skips it)."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from PIL import Image

from gs import data
from gs.data import download as dl
from gs.paper import fakedata
from gs.paper.checkpoints import import_checkpoint
from gs.paper.cli import save_authors_dcgan
from gs.paper.server import ArchiveServer
from gs.paths import REPO_ROOT
from gs.zoo import ZooError, save_checkpoint


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, fakedata.FakeArchive]:
    d = tmp_path_factory.mktemp("served")
    return {"celeba": fakedata.write_celeba(d, 40), "coco": fakedata.write_coco(d, 12)}


@pytest.fixture()
def served(archives, tmp_path, monkeypatch):
    """A server for the fake archives, ``$GS_DATA_SOURCES`` pointing at it, no waits."""
    folder = archives["celeba"].path.parent
    with ArchiveServer(folder, drive=(archives["celeba"].path.name,)) as server:
        urls = {k: server.url(a.path.name) for k, a in archives.items()}
        src = fakedata.write_sources(tmp_path / "sources.json", archives, urls, 1, 1)
        monkeypatch.setenv("GS_DATA_SOURCES", str(src))
        monkeypatch.setattr(dl, "BACKOFF_S", 0.0)
        yield server


# ==========================================================================================
# Fake data
# ==========================================================================================


def test_fake_celeba_is_laid_out_like_the_real_archive(archives):
    a = archives["celeba"]
    with zipfile.ZipFile(a.path) as z:
        names = [n for n in z.namelist() if not n.endswith("/")]
        assert names == [f"img_align_celeba/{i:06d}.jpg" for i in range(1, 41)]
        img = Image.open(z.open(names[0]))
        assert img.format == "JPEG" and img.size == data.CELEBA_SHAPE
    splits = [int(line.split()[1]) for line in
              (a.path.parent / "list_eval_partition.txt").read_text().splitlines()]
    assert len(splits) == 40 and sorted(set(splits)) == [0, 1, 2]
    assert splits == sorted(splits)  # train, then validation, then test, as CelebA's
    assert a.md5 == dl.md5sum(a.path)


def test_fake_coco_has_varied_shapes_and_member_kinds(archives):
    with zipfile.ZipFile(archives["coco"].path) as z:
        members = [n for n in z.namelist() if not n.endswith("/")]
        images = [Image.open(z.open(n)) for n in members]
    assert len(members) == 12 and all(n.startswith("test2017/0000000000") for n in members)
    modes = {im.mode for im in images}
    assert {"RGB", "L", "CMYK", "I;16"} <= modes
    ratios = {round(im.size[0] / im.size[1], 2) for im in images}
    assert any(r > 1 for r in ratios) and any(r < 1 for r in ratios)


def test_sixteen_bit_and_cmyk_images_are_scaled_not_clipped(tmp_path):
    ramp = np.tile(np.linspace(0, 255, 64).astype(np.uint8), (16, 1))
    photo = Image.fromarray(np.stack([ramp] * 3, -1))
    (tmp_path / "g16.png").write_bytes(fakedata.sixteen_bit_png(photo))
    x = np.asarray(data.images.open_rgb(tmp_path / "g16.png")).astype(int)
    assert x.shape == (16, 64, 3)
    assert np.abs(x[..., 0] - ramp).max() <= 1  # PIL's own conversion clips at 255
    photo.convert("CMYK").save(tmp_path / "c.jpg")
    c = np.asarray(data.images.open_rgb(tmp_path / "c.jpg")).astype(int)
    assert np.abs(c[..., 0] - ramp).mean() < 6


# ==========================================================================================
# Downloads through the real code path, against a local server
# ==========================================================================================


def test_download_follows_drive_confirmation_and_resumes_a_dropped_connection(
        served, tmp_path, capsys):
    served.fail("test2017.zip", "drop", "reset", "500")
    assert data.main(["download", "coco", "--root", str(tmp_path)]) == 0
    folder = data.download_set("celeba", tmp_path, quiet=True)
    assert [r for r in served.requests if r[0] == "test2017.zip"][-1][1].startswith("file from ")
    resumed_at = int(served.requests[-3][1].split()[-1])  # the coco fetch after the 500
    assert resumed_at > 0  # not from the start
    out = capsys.readouterr().out
    assert "dropped" in out and "reset" in out and "retrying" in out
    assert ("img_align_celeba.zip", "confirm page") in served.requests
    assert len(list(folder.iterdir())) == 40
    coco = data.load_coco(tmp_path, "test", 128)
    celeba = data.load_celeba(tmp_path, "val", 128)
    assert coco.images.shape == (1, 3, 128, 128) and celeba.images.shape == (1, 3, 128, 128)
    with zipfile.ZipFile(tmp_path / "coco" / "test2017.zip") as z:
        assert z.testzip() is None
    # a second run fetches nothing
    n = len(served.requests)
    assert data.download_set("coco", tmp_path, quiet=True) == tmp_path / "coco" / "test2017"
    assert len(served.requests) == n


def test_quota_page_is_refused_with_advice_and_nothing_extracted(served, tmp_path, capsys):
    served.fail("img_align_celeba.zip", "quota")
    with pytest.raises(data.DownloadError, match="quota") as e:
        data.download_set("celeba", tmp_path, quiet=True)
    assert "24 h" in str(e.value) and "by hand" in str(e.value)
    assert not (tmp_path / "celeba" / "img_align_celeba").exists()
    served.fail("img_align_celeba.zip", "quota")
    assert data.main(["download", "celeba", "--root", str(tmp_path), "--quiet"]) == 1
    assert "Too many users" in capsys.readouterr().err


def test_truncated_archive_is_moved_aside_then_fetched_again(served, tmp_path):
    served.fail("test2017.zip", "truncated")
    with pytest.raises(data.DownloadError, match="rerun") as e:
        data.download_set("coco", tmp_path, quiet=True)
    assert "moved to" in str(e.value)
    base = tmp_path / "coco"
    assert (base / "test2017.zip.bad").is_file() and not (base / "test2017").exists()
    assert not [p for p in base.iterdir() if p.name.startswith(".")]  # no hidden leftovers
    assert len(list(data.download_set("coco", tmp_path, quiet=True).iterdir())) == 12


def test_celeba_md5_mismatch_is_a_checksum_error(served, tmp_path, monkeypatch):
    src = json.loads(Path(data.paper.os.environ["GS_DATA_SOURCES"]).read_text())
    src["celeba"]["md5"] = "0" * 32
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(src))
    monkeypatch.setenv("GS_DATA_SOURCES", str(bad))
    with pytest.raises(data.ChecksumError, match="expected 0000"):
        data.download_set("celeba", tmp_path, quiet=True)
    assert not (tmp_path / "celeba" / "img_align_celeba").exists()


def test_a_damaged_extraction_is_not_taken_as_already_extracted(served, tmp_path):
    folder = data.download_set("coco", tmp_path, quiet=True)
    last = sorted(folder.iterdir())[-1]
    last.write_bytes(last.read_bytes()[:100])  # the last member cut short
    why = dl.verify_folder(tmp_path / "coco", data.data_source("coco"))
    assert why is not None and "wrong size" in why
    n = len(served.requests)
    data.download_set("coco", tmp_path, quiet=True)  # re-extracted from the kept archive
    assert len(served.requests) == n and dl.verify_folder(tmp_path / "coco",
                                                          data.data_source("coco")) is None
    # without its list, a folder with a file missing is incomplete too
    (tmp_path / "coco" / "test2017.verified.json").unlink()
    sorted(folder.iterdir())[0].unlink()
    assert "holds 11 files" in dl.verify_folder(tmp_path / "coco", data.data_source("coco"))


def test_network_errors_become_download_errors_with_advice(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(data.DownloadError, match="rerun the same command") as e:
        dl.http_download(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", quiet=True,
                         retries=2, backoff=0)
    assert "refused" in str(e.value).lower() and "2 attempts" in str(e.value)

    silent = socket.socket()  # accepts, never answers: a timeout
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    held = []
    t = threading.Thread(target=lambda: held.append(silent.accept()), daemon=True)
    t.start()
    try:
        with pytest.raises(data.DownloadError, match="timeout"):
            dl.http_download(f"http://127.0.0.1:{silent.getsockname()[1]}/y.zip",
                             tmp_path / "y.zip", quiet=True, retries=1, timeout=0.3)
    finally:
        silent.close()
    with ArchiveServer(tmp_path) as server:
        server.fail("z.zip", "reset", "reset")
        (tmp_path / "z.zip").write_bytes(b"PK")
        with pytest.raises(data.DownloadError, match="closed the connection|reset"):
            dl.http_download(server.url("z.zip"), tmp_path / "got.zip", quiet=True,
                             retries=2, backoff=0)
        with pytest.raises(data.DownloadError, match="HTTP 404"):
            dl.http_download(server.url("missing.zip"), tmp_path / "m.zip", quiet=True)


def test_data_sources_file_is_checked(tmp_path, monkeypatch):
    f = tmp_path / "s.json"
    monkeypatch.setenv("GS_DATA_SOURCES", str(f))
    f.write_text(json.dumps({"coco": {"n_imgs": 3}}))
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['n_imgs'\]"):
        data.data_source("coco")
    f.write_text(json.dumps({"coco": {"n_images": "3"}}))
    with pytest.raises(ValueError, match="not a positive int"):
        data.data_source("coco")
    f.write_text(json.dumps({"coco": {"n_images": 3, "n_test": 2}}))
    src = data.data_source("coco")
    assert (src.n_images, src.n_test, src.n_val, src.url) == (3, 2, 20, data.COCO_URL)
    assert not src.is_paper and data.data_source("celeba").is_paper


# ==========================================================================================
# Checkpoints users bring
# ==========================================================================================


def test_import_checkpoint_layouts(tmp_path):
    from gs.models import build

    zoo = tmp_path / "zoo.json"
    g = build("dcgan", ngf=8)
    gs_ckpt = tmp_path / "g.pt"
    save_checkpoint(g, gs_ckpt, "dcgan", {"ngf": 8})
    authors = save_authors_dcgan(gs_ckpt, tmp_path / "netG.pth")
    assert all(k.startswith("main.") for k in torch.load(authors, weights_only=True))
    torch.save({"netG_state_dict": torch.load(authors, weights_only=True)}, tmp_path / "w.tar")
    torch.save(g.state_dict(), tmp_path / "plain.pt")
    z = torch.randn(2, 100, 1, 1)
    for i, path in enumerate([gs_ckpt, authors, tmp_path / "w.tar", tmp_path / "plain.pt"]):
        name = import_checkpoint("dcgan", path, None if i == 0 else {"ngf": 8},
                                 name=f"user-dcgan-{i}", zoo_file=zoo)
        from gs.zoo import load

        assert torch.equal(load(name)(z), g.eval()(z)), path.name
    entries = json.loads(zoo.read_text())
    assert len(entries) == 4 and "PyTorch-examples" in entries["user-dcgan-1"]["source"]
    with pytest.raises(ZooError, match="does not fit dcgan.*missing"):
        import_checkpoint("dcgan", authors, None, name="x", zoo_file=zoo)  # ngf 64 != 8
    with pytest.raises(ZooError, match="'dcgan' checkpoint; the paper profile's began"):
        import_checkpoint("began", gs_ckpt, name="y", zoo_file=zoo)
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(ZooError, match="not a checkpoint dict"):
        import_checkpoint("vae", tmp_path / "list.pt", zoo_file=zoo)


# ==========================================================================================
# Profile switches the rehearsal relies on
# ==========================================================================================


def test_structured_cs_from_the_profiles_size():
    from gs.profiles import get_profile
    from gs.sweep.grids import cs_grid

    dense = cs_grid(get_profile("smoke"), families=["dcgan"], methods=("surgery",))
    fast = cs_grid(get_profile("smoke", structured_from=64), families=["dcgan"],
                   methods=("surgery", "lasso_dct"))
    assert {t.operator for t in dense} == {"cs"} and {t.operator for t in fast} == {"cs_fast"}
    assert get_profile("paper").structured_from == 128


def test_profile_overrides_from_the_environment(monkeypatch):
    from gs.profiles import get_profile

    monkeypatch.setenv("GS_PROFILE_OVERRIDES", json.dumps(
        {"paper": {"n_test": 2, "ratios": [0.1], "sweep_cuts": {"began": [0, 2]}}}))
    p = get_profile("paper", steps=3, n_test=None)
    assert (p.n_test, p.ratios, p.sweep_cuts, p.steps) == (2, (0.1,), {"began": (0, 2)}, 3)
    assert get_profile("paper", n_test=5).n_test == 5  # an argument wins
    assert get_profile("smoke").n_test == 2  # other profiles untouched
    monkeypatch.setenv("GS_PROFILE_OVERRIDES", json.dumps({"paper": {"n_tests": 2}}))
    with pytest.raises(ValueError, match="GS_PROFILE_OVERRIDES: unknown profile fields"):
        get_profile("paper")


# ==========================================================================================
# The rehearsal, end to end
# ==========================================================================================


@pytest.mark.rehearsal
@pytest.mark.notebook
def test_rehearsal_runs_the_paper_profile_end_to_end(tmp_path):
    """``python -m gs.paper --rehearse``: fake CelebA / COCO fetched through the real
    download path, the three generators trained at the paper's resolutions, every
    notebook in the paper profile; then a rerun resumes (does nothing again)."""
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "gs.paper", "--rehearse", "--workdir", str(work), "--quiet"]
    run = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "registered from there as 'dcgan64-celeba'" in run.stdout
    assert f"Figures (PDF, PNG and the CSV of their numbers): {work / 'figures'}" in run.stdout

    zoo = json.loads((work / "zoo.json").read_text())
    assert {"dcgan64-celeba", "began128-celeba", "vae128-celeba"} <= set(zoo)
    assert "PyTorch-examples DCGAN" in zoo["dcgan64-celeba"]["source"]
    ran = sorted(p.stem for p in (work / "notebooks").glob("*.ipynb"))
    from gs.notebooks import notebook_paths

    assert ran == [p.stem for p in notebook_paths()]
    for path in (work / "notebooks").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    stems = {p.stem for p in (work / "figures").iterdir()}
    for prefix in [p.stem[:2] for p in notebook_paths()]:
        assert any(s.startswith(prefix) for s in stems), f"notebook {prefix} wrote no figure"
    for stem in stems:
        for ext in (".pdf", ".png", ".csv"):
            assert (work / "figures" / f"{stem}{ext}").is_file(), f"{stem}{ext}"

    with sqlite3.connect(work / "results" / "paper.sqlite") as db:
        rows = db.execute("SELECT DISTINCT model, image_size, operator, m, method FROM results"
                          ).fetchall()
    cs128 = {(op, m) for model, size, op, m, _ in rows if size == 128 and op.startswith("cs")}
    assert ("cs_fast", 24000) in cs128 and ("cs_fast", 400) in cs128  # the paper's m range
    assert {"began128-celeba", "vae128-celeba", "dcgan64-celeba"} <= {r[0] for r in rows}
    assert {"iagan", "mgan", "deep_decoder", "lasso_dct"} <= {r[4] for r in rows}

    again = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("done before") == 3 + len(ran)  # 3 models, every notebook


@pytest.mark.parametrize("argv, message", [
    (["--stages", ""], "--stages '': no stage; choose from data,train,notebooks"),
    (["--stages", "data,fit"], "--stages: unknown stage(s) ['fit']"),
    (["-p", "familes=dcgan"], "no notebook to run has parameter(s) ['familes']"),
    (["-p", "steps=ten"], "parameter steps must be int | None, got 'ten'"),
    (["-p", "families=dcgan,gan"], "parameter families: profile 'paper' has no ['gan']"),
    (["-p", "store_path=/tmp/s.sqlite"], "-p store_path: this command sets it"),
    (["--only", "99"], "--only 99: no notebook starts so"),
])
def test_paper_command_checks_its_options_before_any_stage(argv, message, tmp_path, capsys):
    """A bad stage list or -p fails at once (exit 2, one line), not hours later when
    the notebooks stage starts; nothing is written."""
    from gs.paper.cli import main

    work = tmp_path / "work"
    assert main(argv + ["--workdir", str(work)]) == 2
    assert message in capsys.readouterr().err
    assert not work.exists()
