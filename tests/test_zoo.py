"""The model zoo: the DigiFace DCGAN loads strictly, sha256 and missing files fail clearly."""

import shutil

import pytest
import torch

from gs import zoo
from gs.models.dcgan import DCGAN, convert_tutorial_state_dict


def test_digiface_dcgan_loads_strictly_and_samples_faces_in_range():
    g = zoo.load("dcgan64-digiface")
    assert isinstance(g, DCGAN) and not g.training
    assert g.num_params() == 3_576_704
    # the checkpoint carries real BN statistics (not the identity of a fresh model)
    bn = g.blocks[1][1]
    assert int(bn.num_batches_tracked) > 1000 and bn.running_var.mean() > 1.5
    z = g.sample_latents(4, 0, generator=torch.Generator().manual_seed(0))
    x = g(z)
    assert x.shape == (4, 3, 64, 64)
    assert 0 <= x.min() and x.max() <= 1
    assert x.std(dim=(1, 2, 3)).min() > 0.05  # structured images, not a constant


def test_tutorial_state_dict_keys_map_onto_blocks():
    ours = DCGAN().state_dict()
    tutorial = {}
    for key, value in ours.items():
        _, b, sub, rest = key.split(".", 3)
        tutorial[f"main.{3 * int(b) + int(sub)}.{rest}"] = value
    assert convert_tutorial_state_dict(tutorial).keys() == ours.keys()
    with pytest.raises(KeyError, match="unexpected key"):
        convert_tutorial_state_dict({"foo.weight": torch.zeros(1)})


def _copy_entry(tmp_path, **changes):
    src = zoo.get("dcgan64-digiface")
    dst = tmp_path / "weights.tar"
    shutil.copy(src.path(), dst)
    fields = {**src.__dict__, "name": "test-copy", "locate": lambda: dst, **changes}
    return zoo.ZooEntry(**fields), dst


def test_wrong_sha256_is_refused(tmp_path, monkeypatch):
    entry, _ = _copy_entry(tmp_path, sha256="0" * 64)
    monkeypatch.setitem(zoo.ENTRIES, entry.name, entry)
    with pytest.raises(zoo.ZooError, match="sha256 mismatch"):
        zoo.load(entry.name)


def test_truncated_checkpoint_is_refused(tmp_path, monkeypatch):
    entry, dst = _copy_entry(tmp_path)
    dst.write_bytes(dst.read_bytes()[:1000])
    monkeypatch.setitem(zoo.ENTRIES, entry.name, entry)
    with pytest.raises(zoo.ZooError, match="sha256 mismatch"):
        zoo.load(entry.name)
    entry = zoo.ZooEntry(**{**entry.__dict__, "sha256": None})
    monkeypatch.setitem(zoo.ENTRIES, entry.name, entry)
    with pytest.raises(zoo.ZooError, match="cannot read checkpoint"):
        zoo.load(entry.name)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(zoo.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(zoo.ZooError, match="pip install --no-deps gan_face_generate==1.1.1"):
        zoo.load("dcgan64-digiface")
    assert not zoo.available("dcgan64-digiface")


def test_unknown_entry_lists_known_ones():
    with pytest.raises(ValueError, match="dcgan64-digiface"):
        zoo.load("no-such-model")


def test_save_and_load_checkpoint_roundtrip(tmp_path):
    torch.manual_seed(0)
    g = DCGAN().eval()
    path = tmp_path / "ckpt" / "g.pt"
    digest = zoo.save_checkpoint(g, path, "dcgan", {}, note="test")
    assert digest == zoo.sha256sum(path)
    h = zoo.load_checkpoint(path)
    z = g.sample_latents(2, 1, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(g(z, cut=1), h(z, cut=1))
    entry = zoo.register(name="test-roundtrip", model="dcgan", path=path, sha256=digest)
    try:
        torch.testing.assert_close(zoo.load(entry.name)(z, cut=1), g(z, cut=1))
    finally:
        zoo.ENTRIES.pop(entry.name)
