"""The model zoo: the DigiFace DCGAN loads strictly, sha256 and missing files fail clearly,
the per-user zoo file is validated lazily, and weights_id follows checkpoint files."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gs import zoo
from gs.models import VAE, build
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
    monkeypatch.setattr(zoo.builtin.importlib.util, "find_spec", lambda name: None)
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




# ----------------------------------------------------------- the per-user zoo file
@pytest.fixture
def user_zoo(tmp_path, monkeypatch):
    """``$GS_LOCAL_ZOO`` = tmp_path/zoo.json, read afresh the first time the zoo is used."""
    file = tmp_path / "zoo.json"
    monkeypatch.setenv("GS_LOCAL_ZOO", str(file))
    _fresh_process_state(monkeypatch)
    return file


def _fresh_process_state(monkeypatch):
    """The per-user zoo file not read yet, only the built-in entries registered (in
    gs.zoo.registry, where the zoo reads them, and as gs.zoo.<name>)."""
    local, fresh = zoo._LocalZoo("pending"), zoo._Entries(zoo._BUILTIN)
    for module in (zoo, zoo.registry):
        monkeypatch.setattr(module, "_LOCAL", local)
        monkeypatch.setattr(module, "ENTRIES", fresh)


def _tiny_vae(path, seed=0):
    torch.manual_seed(seed)
    g = build("vae64", widths=(16, 16, 8, 8, 8))
    zoo.save_checkpoint(g, path, "vae64", {"widths": [16, 16, 8, 8, 8]})
    return path


BAD_ENTRIES = {
    "not-an-object": (["g.pt", "dcgan"], "not an object"),
    "no-path": ({"model": "dcgan"}, "'path' is missing"),
    "unknown-model": ({"path": "g.pt", "model": "resnet50"}, "not a known architecture"),
    "bad-sha": ({"path": "g.pt", "model": "dcgan", "sha256": "abc123"}, "not 64 hex digits"),
    "typo-field": ({"path": "g.pt", "model": "dcgan", "sha265": "0" * 64}, "unknown field"),
    "replaces-string": ({"path": "g.pt", "model": "dcgan", "replaces": "yes"},
                        "'replaces' is 'yes'"),
    "licence-number": ({"path": "g.pt", "model": "dcgan", "licence": 3}, "not a string"),
}


def _import_and_use(file):
    """Run a fresh interpreter with GS_LOCAL_ZOO=file: import gs.zoo, then use it."""
    code = ("import gs.zoo as z; print('imported', flush=True); "
            "print(z.available('dcgan64-digiface'), z.available('good'), z.available('no-path'))")
    env = {**os.environ, "GS_LOCAL_ZOO": str(file)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300, cwd=Path(zoo.__file__).parents[2])


def test_malformed_user_file_never_breaks_import_nor_the_builtins(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"good": {"path": "g.pt", "model": "dcgan"},')
    res = _import_and_use(bad_json)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["imported", "True", "False", "False"]
    assert "not valid JSON" in res.stderr and str(bad_json) in res.stderr

    bad_entries = tmp_path / "entries.json"
    _tiny_vae(tmp_path / "g.pt")
    entries = {name: raw for name, (raw, _) in BAD_ENTRIES.items()}
    bad_entries.write_text(json.dumps({**entries, "good": {"path": "g.pt", "model": "vae64"}}))
    res = _import_and_use(bad_entries)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["imported", "True", "True", "False"]
    assert "'no-path'" in res.stderr and str(bad_entries) in res.stderr


def test_invalid_json_is_reported_and_builtins_still_load(user_zoo):
    user_zoo.write_text("{not json")
    with pytest.warns(zoo.ZooWarning, match="not valid JSON") as rec:
        assert "dcgan64-digiface" in zoo.ENTRIES
    assert str(user_zoo) in str(rec[0].message)
    assert zoo.weights_id("dcgan64-digiface") == zoo.DIGIFACE_SHA256[:16]
    with pytest.raises(ValueError, match="per-user zoo file was skipped.*not valid JSON"):
        zoo.get("dcgan64-celeba")
    for text in ("[1, 2]", '"zoo"'):
        with pytest.raises(zoo.ZooError, match="must hold a JSON object"):
            user_zoo.write_text(text)
            zoo.register_from_file(user_zoo)


@pytest.mark.parametrize("name", sorted(BAD_ENTRIES))
def test_malformed_entry_warns_when_read_and_fails_clearly_when_used(user_zoo, name):
    raw, what = BAD_ENTRIES[name]
    _tiny_vae(user_zoo.parent / "g.pt")
    user_zoo.write_text(json.dumps({name: raw, "good": {"path": "g.pt", "model": "vae64"}}))
    with pytest.warns(zoo.ZooWarning) as rec:
        assert zoo.available("good") and not zoo.available(name)
    (msg,) = [str(w.message) for w in rec]
    assert str(user_zoo) in msg and repr(name) in msg and what in msg
    for use in (zoo.get, zoo.load, zoo.weights_id):
        with pytest.raises(zoo.ZooError) as err:
            use(name)
        assert str(err.value) == msg.removeprefix("skipping a local zoo entry: ")
    assert name not in zoo.ENTRIES
    # the good entry and the built-ins are untouched
    assert zoo.load("good").image_size == 64 and zoo.get("good").path() == user_zoo.parent / "g.pt"
    assert zoo.get("dcgan64-digiface") is zoo._BUILTIN["dcgan64-digiface"]
    # an explicit read is all or nothing, and names the entry
    with pytest.raises(zoo.ZooError, match=re.escape(f"{user_zoo}, entry {name!r}")):
        zoo.register_from_file(user_zoo)


def test_user_file_is_read_lazily_not_at_import(user_zoo):
    _tiny_vae(user_zoo.parent / "g.pt")
    user_zoo.write_text(json.dumps({"later": {"path": "g.pt", "model": "vae64"}}))
    assert zoo._LOCAL.state == "pending"  # nothing consulted yet
    assert "later" in zoo.ENTRIES and zoo._LOCAL.state == "done"
    user_zoo.write_text("{broken")  # read once per process
    assert zoo.available("later")


def test_shipped_name_without_replaces_is_refused(user_zoo):
    ckpt = _tiny_vae(user_zoo.parent / "vae.pt")
    user_zoo.write_text(json.dumps({"began64-digiface": {"path": str(ckpt), "model": "vae64"}}))
    with pytest.warns(zoo.ZooWarning, match="built-in zoo entry") as rec:
        entry = zoo.get("began64-digiface")
    msg = str(rec[0].message)
    assert str(user_zoo) in msg and "'began64-digiface'" in msg and '"replaces": true' in msg
    assert entry is zoo._BUILTIN["began64-digiface"] and entry.model == "began64"
    with pytest.raises(zoo.ZooError, match=re.escape(f"{user_zoo}, entry 'began64-digiface'")):
        zoo.register_from_file(user_zoo)
    other = user_zoo.parent / "other.json"
    with pytest.raises(zoo.ZooError, match="'vae64-digiface': this name is a built-in"):
        zoo.add_local_entry("vae64-digiface", ckpt, file=other)
    assert not other.exists() and zoo.get("vae64-digiface") is zoo._BUILTIN["vae64-digiface"]


def test_shipped_name_with_replaces_true_replaces_and_is_announced(user_zoo):
    ckpt = _tiny_vae(user_zoo.parent / "vae.pt")
    user_zoo.write_text(json.dumps(
        {"began64-digiface": {"path": str(ckpt), "model": "vae64", "replaces": True}}))
    with pytest.warns(zoo.ZooWarning, match="replaced") as rec:
        entry = zoo.get("began64-digiface")
    msg = str(rec[0].message)
    assert str(user_zoo) in msg and "'began64-digiface'" in msg and str(ckpt) in msg
    assert entry.model == "vae64" and entry.path() == ckpt
    assert isinstance(zoo.load("began64-digiface"), VAE)
    assert zoo.weights_id("began64-digiface") == zoo.sha256sum(ckpt)[:16]
    # the shipped checkpoints (MANIFEST rows) do not depend on the user's file
    assert zoo._BUILTIN["began64-digiface"] in zoo.shipped_entries()
    with pytest.warns(zoo.ZooWarning, match="replaced"):
        path = zoo.add_local_entry("vae64-digiface", ckpt, replaces=True,
                                   file=user_zoo.parent / "other.json")
    assert json.loads(path.read_text())["vae64-digiface"]["replaces"] is True
    assert zoo.get("vae64-digiface").path() == ckpt.resolve()


def test_weights_id_follows_the_checkpoint_file_of_an_entry_without_sha256(
        tmp_path, user_zoo, monkeypatch):
    path = _tiny_vae(tmp_path / "mine.pt", seed=0)
    zoo.register(name="mine", model="vae64", path=path)
    real, calls = zoo.sha256sum, []
    monkeypatch.setattr(zoo.checkpoints, "sha256sum",
                        lambda p, *a: calls.append(p) or real(p, *a))

    def wid() -> tuple[str, int]:
        """weights_id("mine") and how many times it hashed the file."""
        n = len(calls)
        return zoo.weights_id("mine"), len(calls) - n

    first, hashed = wid()
    assert first == real(path)[:16] and len(first) == 16 and hashed == 1
    assert wid() == (first, 0)  # computed once, then cached

    _tiny_vae(path, seed=1)  # retrained: a new file in place of the old one
    second, hashed = wid()
    assert second == real(path)[:16] and second != first and hashed == 1
    assert wid() == (second, 0)

    data, before = bytearray(path.read_bytes()), path.stat().st_mtime_ns
    data[-1] ^= 0xFF  # rewritten in place (same inode and size), a second later
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))
    third, hashed = wid()
    assert third == real(path)[:16] and third not in (first, second) and hashed == 1
    assert wid() == (third, 0)

    # a recorded sha256 is used as is; no model, no weights; unknown names fail
    zoo.register(name="pinned", model="vae64", path=path, sha256="ab" * 32)
    n = len(calls)
    assert zoo.weights_id("pinned") == "ab" * 8 and len(calls) == n
    assert zoo.weights_id("") == ""
    with pytest.raises(ValueError, match="unknown zoo entry"):
        zoo.weights_id("no-such-model")
    path.unlink()
    with pytest.raises(zoo.ZooError, match="does not exist"):
        zoo.weights_id("mine")


def test_add_local_entry_is_found_by_a_later_process(user_zoo, tmp_path, monkeypatch):
    ckpt = _tiny_vae(tmp_path / "ck" / "g.pt")
    assert zoo.add_local_entry("vae-later", ckpt, training="cmd") == user_zoo
    assert zoo.load("vae-later").image_size == 64
    # a fresh process state reads the same file lazily
    _fresh_process_state(monkeypatch)
    entry = zoo.get("vae-later")
    assert entry.sha256 == zoo.sha256sum(ckpt) and entry.training == "cmd"
    assert zoo.weights_id("vae-later") == entry.sha256[:16]
