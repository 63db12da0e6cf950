"""Training: losses move the right way, resume is exact, data streams are deterministic,
the shipped BEGAN/VAE zoo entries load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gs import data as D
from gs import train as T
from gs import zoo

pytestmark = pytest.mark.usefixtures("one_thread")


def _faces(n: int = 16, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Tiny structured 'faces': a bright disc with two dark eyes on a noisy background."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size),
                            indexing="ij")
    out = []
    for _ in range(n):
        cx, cy = (torch.rand(2, generator=g) - 0.5) * 0.3
        col = torch.rand(3, 1, 1, generator=g) * 0.5 + 0.4
        face = ((xx - cx) ** 2 + (yy - cy) ** 2 < 0.5).float()
        eyes = (((xx - cx - 0.25) ** 2 + (yy - cy + 0.2) ** 2 < 0.01)
                | ((xx - cx + 0.25) ** 2 + (yy - cy + 0.2) ** 2 < 0.01)).float()
        img = 0.1 + face * col - eyes * 0.4 + 0.02 * torch.randn(3, size, size, generator=g)
        out.append(img.clamp(0, 1))
    return torch.stack(out)


class TensorStream:
    """Cycles over a fixed tensor in batches; state = position (for resume tests)."""

    def __init__(self, data: torch.Tensor, batch_size: int):
        self.data, self.batch_size, self.pos = data, batch_size, 0

    def next(self) -> torch.Tensor:
        idx = [(self.pos + i) % len(self.data) for i in range(self.batch_size)]
        self.pos = (self.pos + self.batch_size) % len(self.data)
        return self.data[idx]

    def state_dict(self) -> dict:
        return {"pos": self.pos}

    def load_state_dict(self, st: dict) -> None:
        self.pos = int(st["pos"])


TINY = {
    "dcgan": dict(model_kwargs={"ngf": 8}, disc_kwargs={"ndf": 8}),
    "began": dict(model_kwargs={"ch": 8}, disc_kwargs={"ch": 8, "convs_per_level": 1}),
    "vae": dict(model_kwargs={"widths": [16, 16, 8, 8, 8]}),
}


def _cfg(model: str, tmp_path, steps: int, **kw) -> T.TrainConfig:
    base = dict(model=model, data="tensor", batch_size=8, steps=steps, seed=0, device="cpu",
                out=str(tmp_path / model), progress=False, sample_every=10_000,
                ckpt_every=10_000, log_every=1, **TINY[model])
    base.update(kw)
    return T.TrainConfig(**base)


def _log(cfg: T.TrainConfig) -> list[dict]:
    lines = (Path(cfg.out) / "log.jsonl").read_text().splitlines()
    return [json.loads(s) for s in lines]


def test_vae_elbo_loss_decreases(tmp_path):
    cfg = _cfg("vae", tmp_path, steps=30, lr=2e-3)
    T.train(cfg, stream=TensorStream(_faces(16), 8))
    loss = [r["loss"] for r in _log(cfg)]
    assert np.mean(loss[-5:]) < 0.7 * np.mean(loss[:3])


def test_began_reconstruction_of_real_images_decreases(tmp_path):
    cfg = _cfg("began", tmp_path, steps=25, lr=1e-3, batch_size=4)
    T.train(cfg, stream=TensorStream(_faces(8), 4))
    rec = [r["L_real"] for r in _log(cfg)]
    assert np.mean(rec[-5:]) < 0.8 * np.mean(rec[:3])
    assert all(np.isfinite(r["M_global"]) for r in _log(cfg))


def test_dcgan_discriminator_learns_to_separate(tmp_path):
    cfg = _cfg("dcgan", tmp_path, steps=15)
    T.train(cfg, stream=TensorStream(_faces(16), 8))
    log = _log(cfg)
    # a fresh D outputs ~0.5 for everything and loss_D ~ 2 log 2; it quickly separates
    assert abs(log[0]["D_x"] - 0.5) < 0.2
    assert np.mean([r["loss_D"] for r in log[-3:]]) < log[0]["loss_D"]
    assert np.mean([r["D_x"] - r["D_G_z"] for r in log[-3:]]) > 0.1


def test_dcgan_init_and_float_labels():
    trainer = T.DCGANTrainer(_cfg("dcgan", Path("/tmp"), 1), torch.device("cpu"), 1, 1)
    w = trainer.G.blocks[1][0].weight.detach()
    assert abs(float(w.std()) - 0.02) < 0.005
    bn = trainer.D.main[3]
    assert abs(float(bn.weight.mean()) - 1) < 0.01 and float(bn.bias.abs().max()) == 0


@pytest.mark.parametrize("model", ["vae", "began", "dcgan"])
def test_resume_gives_identical_continuation(tmp_path, model):
    data = _faces(12)
    straight = _cfg(model, tmp_path / "a", steps=4)
    r1 = T.train(straight, stream=TensorStream(data, 8 if model != "began" else 4))
    bs = 8 if model != "began" else 4
    split = _cfg(model, tmp_path / "b", steps=4, stop_at=2)
    T.train(split, stream=TensorStream(data, bs))
    split2 = _cfg(model, tmp_path / "b", steps=4)
    r2 = T.train(split2, resume=True, stream=TensorStream(data, bs))
    assert r2.step == 4
    a = torch.load(r1.generator_path, weights_only=True)["state_dict"]
    b = torch.load(r2.generator_path, weights_only=True)["state_dict"]
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa = torch.load(Path(straight.out) / "state.pt", weights_only=True)
    sb = torch.load(Path(split2.out) / "state.pt", weights_only=True)
    for k, v in sa["trainer"]["modules"].items():
        for name in v:
            assert torch.equal(v[name], sb["trainer"]["modules"][k][name]), (k, name)
    if model == "began":
        assert sa["trainer"]["k"] == sb["trainer"]["k"]


def test_same_seed_same_weights(tmp_path):
    data = _faces(8)
    r1 = T.train(_cfg("vae", tmp_path / "a", steps=2), stream=TensorStream(data, 8))
    r2 = T.train(_cfg("vae", tmp_path / "b", steps=2), stream=TensorStream(data, 8))
    a = torch.load(r1.generator_path, weights_only=True)["state_dict"]
    b = torch.load(r2.generator_path, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_digiface_stream_is_deterministic_and_resumable():
    teacher = zoo.load("dcgan64-digiface")
    s1 = D.DigiFaceStream(3, seed=5, teacher=teacher)
    s2 = D.DigiFaceStream(3, seed=5, teacher=teacher)
    a, b = s1.next(), s2.next()
    assert a.shape == (3, 3, 64, 64) and 0 <= a.min() and a.max() <= 1
    assert torch.equal(a, b)
    st = s1.state_dict()
    c = s1.next()
    assert not torch.equal(a, c)
    s2.load_state_dict(st)
    assert torch.equal(s2.next(), c)
    assert not torch.equal(D.DigiFaceStream(3, seed=6, teacher=teacher).next(), a)


def _image_folder(root, n=10, size=(40, 30)):
    from PIL import Image

    rng = np.random.default_rng(0)
    (root / "sub").mkdir(parents=True)
    for i in range(n):
        arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        folder = root / "sub" if i % 2 else root
        Image.fromarray(arr).save(folder / f"{i:03d}.{'png' if i % 3 else 'jpg'}")
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_stream_reads_shuffles_and_resumes(tmp_path):
    root = _image_folder(tmp_path / "imgs")
    files = D.list_images(root)
    assert len(files) == 10
    s = D.ImageFolderStream(files, size=16, batch_size=4, seed=0, workers=2)
    x = s.next()
    assert x.shape == (4, 3, 16, 16) and x.dtype == torch.float32
    assert 0 <= x.min() and x.max() <= 1
    st = s.state_dict()
    nxt = [s.next() for _ in range(3)]  # crosses an epoch boundary (10 // 4 = 2 batches)
    assert s.epoch == 1
    s2 = D.ImageFolderStream(files, size=16, batch_size=4, seed=0, workers=0)
    s2.load_state_dict(st)
    for y in nxt:
        assert torch.equal(s2.next(), y)
    with pytest.raises(FileNotFoundError, match="no images"):
        D.list_images(_empty(tmp_path))


def _empty(tmp_path):
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_celeba_crop_and_split(tmp_path):
    from PIL import Image

    root = tmp_path / "celeba" / "img_align_celeba"
    root.mkdir(parents=True)
    for i in range(40):
        Image.new("RGB", (178, 218), (i * 5, 0, 0)).save(root / f"{i + 1:06d}.jpg")
    files = D.celeba_train_files(tmp_path)
    assert len(files) == 38 and files[-1].name == "000038.jpg"  # last 5% (2) held out
    assert D.celeba_train_files(root) == files
    x = D.load_celeba_image(files[0], 64)
    assert x.shape == (3, 64, 64)
    s = D.ImageFolderStream(files, 128, 4, loader=D.load_celeba_image, workers=0)
    assert s.next().shape == (4, 3, 128, 128)


def test_train_on_folder_data_end_to_end(tmp_path):
    root = _image_folder(tmp_path / "imgs", n=8, size=(64, 64))
    cfg = _cfg("vae", tmp_path, steps=2, data=f"folder:{root}", batch_size=4, sample_every=2)
    res = T.train(cfg)
    assert res.step == 2 and res.generator_path.is_file()
    assert (Path(cfg.out) / "samples_000002.png").is_file()
    g = zoo.load_checkpoint(res.generator_path)
    assert g(torch.zeros(1, 512)).shape == (1, 3, 64, 64)


def test_cli_parses_profiles_and_overrides():
    args = T.build_parser().parse_args(
        ["began", "--profile", "paper", "--data-root", "/x", "--ch", "16", "--steps", "3"])
    cfg = T.config_from_args("began", args)
    assert cfg.image_size == 128 and cfg.data == "celeba" and cfg.model_kwargs["ch"] == 16
    assert cfg.steps == 3 and cfg.recipe_lr == 1e-4 and cfg.batch_size == 32
    args = T.build_parser().parse_args(["vae", "--profile", "paper"])
    cfg = T.config_from_args("vae", args)
    assert (cfg.image_size, cfg.batch_size, cfg.epochs, cfg.recipe_lr) == (128, 128, 20, 2e-4)
    cfg = T.config_from_args("dcgan", T.build_parser().parse_args(["dcgan", "--profile", "paper"]))
    assert (cfg.image_size, cfg.batch_size, cfg.epochs) == (64, 64, 25)
    with pytest.raises(FileNotFoundError, match="CelebA"):
        D.make_stream(T.TrainConfig(model="vae", data="celeba", data_root="/nonexistent"),
                      torch.device("cpu"))


def test_local_zoo_registration(tmp_path, monkeypatch):
    from gs.models import build

    g = build("vae64", widths=(16, 16, 8, 8, 8))
    path = tmp_path / "g.pt"
    zoo.save_checkpoint(g, path, "vae64", {"widths": [16, 16, 8, 8, 8]})
    reg = zoo.add_local_entry("vae-test-local", path, file=tmp_path / "zoo.json")
    assert json.loads(reg.read_text())["vae-test-local"]["sha256"] == zoo.sha256sum(path)
    assert zoo.register_from_file(reg) == ["vae-test-local"]
    assert zoo.load("vae-test-local")(torch.zeros(2, 512)).shape == (2, 3, 64, 64)
    zoo.ENTRIES.pop("vae-test-local")


@pytest.mark.parametrize("name,cut", [("began64-digiface", 2), ("vae64-digiface", 1)])
def test_shipped_zoo_entries_load_and_sample(name, cut):
    if name not in zoo.ENTRIES:
        pytest.skip(f"{name} is not registered yet")
    g = zoo.load(name)  # sha256 verified
    assert g.image_size == 64 and g.default_cut == cut and not g.training
    z = g.sample_latents(3, 0, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = g(z)
    assert x.shape == (3, 3, 64, 64) and torch.isfinite(x).all()
    assert x.std(dim=(1, 2, 3)).min() > 0.03  # structured images, not a constant
    assert zoo.get(name).sha256 == zoo.sha256sum(zoo.get(name).path())


def test_began_distill_objective_regresses_onto_the_teacher(tmp_path):
    teacher = zoo.load("dcgan64-digiface")
    stream = D.DigiFaceStream(4, seed=0, teacher=teacher)
    u, x = stream.next_pair(64)
    assert u.shape == (4, 64) and u.abs().max() < 1 and x.shape == (4, 3, 64, 64)
    cfg = _cfg("began", tmp_path, steps=12, lr=2e-3, batch_size=4, objective="distill")
    T.train(cfg, stream=D.DigiFaceStream(4, seed=0, teacher=teacher))
    l1 = [r["L1"] for r in _log(cfg)]
    assert np.mean(l1[-3:]) < np.mean(l1[:2])
    with pytest.raises(ValueError, match="distill"):
        T.train(_cfg("vae", tmp_path, steps=1, objective="distill"),
                stream=TensorStream(_faces(8), 8))


def test_init_from_starts_the_generator_from_a_checkpoint(tmp_path):
    from gs.models import build

    g = build("vae64", widths=(16, 16, 8, 8, 8))
    path = tmp_path / "init.pt"
    zoo.save_checkpoint(g, path, "vae64", {"widths": [16, 16, 8, 8, 8]})
    cfg = _cfg("vae", tmp_path, steps=1, lr=0.0, init_from=str(path))
    res = T.train(cfg, stream=TensorStream(_faces(8), 8))
    got = zoo.load_checkpoint(res.generator_path)
    for (k, a), b in zip(g.named_parameters(), got.parameters(), strict=True):
        assert torch.equal(a, b), k
