"""Properties of gs.surgery: re-initialisation, recovery mode, cut tables."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import pytest
import torch

from gs.models import BEGAN, DCGAN, VAE, build
from gs.surgery import (
    CutGenerator,
    cut_table,
    latent_dim,
    prepare_for_recovery,
    reinitialize,
    share_removed,
)

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {
    "dcgan": lambda: DCGAN(nz=5, ngf=2),
    "began128": lambda: BEGAN(128, latent_dim=3, ch=2),
    "began64": lambda: BEGAN(64, latent_dim=3, ch=3),
    "vae64": lambda: VAE(64, latent_dim=5, widths=(3, 2, 2, 2, 2)),
}


def _trained_like(name: str) -> torch.nn.Module:
    """A tiny generator whose every weight and BN statistic is far from its default."""
    torch.manual_seed(0)
    g = TINY[name]()
    with torch.no_grad():
        for p in g.parameters():
            p.uniform_(2.0, 3.0)
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.fill_(0.7)
                m.running_var.fill_(2.5)
                m.num_batches_tracked.fill_(42)
    return g


def _meta(name: str) -> torch.nn.Module:
    """A paper-size generator on the meta device: shapes and counts, no weights drawn."""
    with torch.device("meta"):
        return build(name)


def _state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


@pytest.fixture(params=sorted(TINY))
def name(request) -> str:
    return request.param


@pytest.mark.parametrize("where", ["first", "default", "last"])
def test_reinitialize_changes_only_the_kept_blocks(name, where):
    g = _trained_like(name)
    cut = {"first": 0, "default": g.default_cut, "last": g.valid_cuts[-1]}[where]
    before = _state(g)
    r = reinitialize(g, cut, torch.Generator().manual_seed(1))
    assert r is not g
    # the original is untouched
    for k, v in g.state_dict().items():
        assert torch.equal(v, before[k]), k
    for i, (old, new) in enumerate(zip(g.blocks, r.blocks, strict=True)):
        old_s, new_s = old.state_dict(), new.state_dict()
        for k in old_s:
            if i < cut:
                assert torch.equal(old_s[k], new_s[k]), (i, k)  # removed: bit-identical
            else:
                assert not torch.equal(old_s[k], new_s[k]), (i, k)  # kept: re-drawn
    for m in r.blocks[cut:].modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            assert (m.running_mean == 0).all() and (m.running_var == 1).all()
            assert (m.weight == 1).all() and (m.bias == 0).all()
    if isinstance(g, VAE):  # the encoder is not part of the generator
        for k, v in r.encoder.state_dict().items():
            assert torch.equal(v, before[f"encoder.{k}"])


def test_reinitialize_is_seeded_and_keeps_mode_and_flags(name):
    g = prepare_for_recovery(_trained_like(name))
    cut = g.default_cut
    a = reinitialize(g, cut, torch.Generator().manual_seed(7))
    b = reinitialize(g, cut, torch.Generator().manual_seed(7))
    c = reinitialize(g, cut, torch.Generator().manual_seed(8))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    assert not a.training and not any(p.requires_grad for p in a.parameters())
    # the global RNG is not consumed when a torch.Generator is given
    torch.manual_seed(3)
    x = torch.rand(1)
    torch.manual_seed(3)
    reinitialize(g, cut, torch.Generator().manual_seed(7))
    assert torch.equal(torch.rand(1), x)
    z = a.sample_latents(2, cut)
    assert a(z, cut=cut).shape == g(z, cut=cut).shape


def test_reinitialize_rejects_bad_cuts(name):
    g = TINY[name]()
    with pytest.raises(ValueError, match="out of range"):
        reinitialize(g, len(g.blocks))
    with pytest.raises(TypeError):
        reinitialize(g, 1.5)


def test_prepare_for_recovery_freezes_weights(name):
    g = TINY[name]().train()
    out = prepare_for_recovery(g)
    assert out is g and not g.training
    assert all(not m.training for m in g.modules())
    for cut in (0, g.default_cut):
        z = tuple(t.requires_grad_() for t in g.sample_latents(2, cut))
        g(z, cut=cut).square().mean().backward()
        assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in z)
        assert all(p.grad is None for p in g.parameters())


def test_prepare_for_recovery_uses_running_statistics():
    g = prepare_for_recovery(_trained_like("dcgan"))
    z = g.sample_latents(4, 1, generator=torch.Generator().manual_seed(0))
    single = torch.cat([g(tuple(t[i : i + 1] for t in z), cut=1) for i in range(4)])
    torch.testing.assert_close(g(z, cut=1), single)  # no batch coupling through BN


@pytest.mark.parametrize("model", ["dcgan", "began", "vae", "began64", "vae64"])
def test_cut_table_rows(model):
    g = _meta(model)
    rows = cut_table(g)
    assert [r["cut"] for r in rows] == list(g.valid_cuts)
    for r in rows:
        c = r["cut"]
        assert r["latent_shapes"] == g.latent_shapes(c)
        assert r["latent_dim"] == latent_dim(g, c) == g.latent_dim(c)
        assert r["params_removed"] == g.params_removed(c)
        assert r["share_removed"] == pytest.approx(share_removed(g, c))
        assert 0 <= r["share_removed"] < 1 and r["params_total"] == g.num_params()
        assert r["paper_cut"] == (c == g.default_cut)
        assert r["in_sweep"] == (c in g.sweep_cuts)
    shares = [r["share_removed"] for r in rows]
    assert shares == sorted(shares) and shares[0] == 0


def test_cut_table_paper_values():
    began = {r["cut"]: r for r in cut_table(_meta("began"))}
    assert began[2]["latent_dim"] == 40960 and began[2]["paper_cut"]
    assert round(100 * began[2]["share_removed"], 1) == 24.4
    vae = cut_table(_meta("vae"), as_frame=True)
    assert list(vae["latent_dim"]) == [512, 32768, 65536, 131072, 262144, 524288, 2097152]
    dcgan = cut_table(_meta("dcgan"))
    assert [round(100 * r["share_removed"], 1) for r in dcgan] == [0, 22.9, 81.6, 96.2, 99.9]


def test_cut_generator_is_the_generator_at_a_fixed_cut(name):
    g = TINY[name]().eval()
    cg = CutGenerator(g, g.default_cut)
    assert cg.latent_shapes == g.latent_shapes(g.default_cut)
    assert cg.latent_dim == g.latent_dim(g.default_cut)
    z = cg.sample_latents(2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(cg(z), g(z, cut=g.default_cut))
    assert set(cg.state_dict()) == {f"generator.{k}" for k in g.state_dict()}
    with pytest.raises(ValueError):
        CutGenerator(g, -1)


def test_reinitialize_deepcopy_equivalence_for_removed_blocks():
    # with cut = number of blocks - 1 only the last block changes; output differs
    g = prepare_for_recovery(_trained_like("dcgan"))
    last = g.valid_cuts[-1]
    r = reinitialize(g, last, torch.Generator().manual_seed(0))
    z = g.sample_latents(1, last, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(r(z, cut=last), g(z, cut=last))
    snapshot = copy.deepcopy(g)
    reinitialize(g, 0)  # global-RNG path
    pairs = zip(g.parameters(), snapshot.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)




def test_docs_cut_table_is_up_to_date():
    root = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location(
        "make_cut_table", root / "scripts/make_cut_table.py"
    )
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    text = (root / "docs/cut_table.md").read_text(encoding="utf-8")
    assert text == script.render(), "regenerate with: python scripts/make_cut_table.py"


@pytest.mark.gpu
def test_reinitialize_and_forward_on_cuda(name):
    g = prepare_for_recovery(_trained_like(name).cuda())
    cut = g.default_cut
    a = reinitialize(g, cut, torch.Generator().manual_seed(3))
    b = reinitialize(g, cut, torch.Generator().manual_seed(3))
    assert a.device.type == "cuda"
    assert all(torch.equal(u, v) for u, v in zip(a.parameters(), b.parameters(), strict=True))
    z = a.sample_latents(2, cut, generator=torch.Generator("cuda").manual_seed(0))
    feats = g.features(z, cut=cut)
    torch.testing.assert_close(g(feats[-1], cut=g.valid_cuts[-1]), g(z, cut=cut))
