import math

import pytest
import torch

from gs.operators import (
    GaussianCS,
    Inpainting,
    StructuredCS,
    SuperResolution,
    make_operator,
    paper_noise_std,
    real_fourier,
    real_fourier_inverse,
)

SHAPE = (3, 9, 7)  # tiny and odd: n = 189
N = math.prod(SHAPE)
OPS = [
    ("cs", {"m": 40}),
    ("cs", {"m": 40, "per_image": 2}),
    ("cs_fast", {"m": 40}),
    ("cs_fast", {"m": N}),
    ("inpainting", {}),
    ("inpainting", {"fraction": 0.5}),
    ("sr", {}),
    ("sr", {"factor": 2}),
    ("identity", {}),
]
IDS = [f"{name}-{'-'.join(f'{k}{v}' for k, v in kw.items())}" for name, kw in OPS]


def build(name, kw, device, seed=1):
    g = torch.Generator().manual_seed(seed)
    return make_operator(name, SHAPE, generator=g, device=device, **kw)


@pytest.mark.parametrize(("name", "kw"), OPS, ids=IDS)
def test_adjointness_and_shapes(name, kw, device, rng):
    op = build(name, kw, device).double()
    x = torch.randn(2, *SHAPE, generator=rng, dtype=torch.float64).to(device)
    y = torch.randn(2, *op.meas_shape, generator=rng, dtype=torch.float64).to(device)
    ax = op.A(x)
    assert ax.shape == (2, *op.meas_shape)
    aty = op.A_adjoint(y)
    assert aty.shape == x.shape
    lhs, rhs = (ax * y).sum(), (x * aty).sum()
    assert float(abs(lhs - rhs)) < 1e-10 * max(1.0, float(abs(lhs)))
    assert ax.device.type == device.type and op.device.type == device.type


@pytest.mark.parametrize(("name", "kw"), OPS, ids=IDS)
def test_bad_images_raise(name, kw):
    op = build(name, kw, "cpu")
    with pytest.raises(ValueError, match="shape"):
        op.A(torch.zeros(2, 3, 9, 8))
    with pytest.raises(ValueError, match="shape"):
        op.A(torch.zeros(3, 9, 7))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        op.measure(torch.full((2, *SHAPE), 1.5))
    bad = torch.rand(2, *SHAPE)
    bad[0, 1, 2, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        op.measure(bad)
    with pytest.raises(ValueError, match="shape"):
        op.A_adjoint(torch.zeros(2, 3))


@pytest.mark.parametrize("m", [0, -3, N + 1])
@pytest.mark.parametrize("name", ["cs", "cs_fast"])
def test_bad_m_raises(name, m):
    with pytest.raises(ValueError, match="m="):
        make_operator(name, SHAPE, m=m)


def test_factory_errors():
    with pytest.raises(ValueError, match="unknown operator 'blur'"):
        make_operator("blur", SHAPE)
    with pytest.raises(ValueError, match="needs the number of measurements"):
        make_operator("cs", SHAPE)
    with pytest.raises(TypeError, match="must be an int"):
        make_operator("cs", SHAPE, m=10.0)
    with pytest.raises(ValueError, match="image_shape"):
        make_operator("identity", (9, 7))
    with pytest.raises(ValueError, match="fraction"):
        make_operator("inpainting", SHAPE, fraction=0.0)


def test_gaussian_statistics(rng):
    m = 400
    op = GaussianCS((3, 16, 16), m, generator=rng)
    assert op.matrix.shape == (768, m)
    assert op.matrix.var().item() == pytest.approx(1 / m, rel=0.02)
    assert op.matrix.mean().item() == pytest.approx(0.0, abs=3 / math.sqrt(768 * m) / math.sqrt(m))
    x = torch.rand(64, 3, 16, 16, generator=rng)
    ratio = op.A(x).pow(2).sum(1) / x.pow(2).flatten(1).sum(1)
    # averaged over images (and a fixed A) the energy is kept up to sampling error
    assert ratio.mean().item() == pytest.approx(1.0, abs=0.15)
    # y = vec(x) A with vec in C, H, W order
    torch.testing.assert_close(op.A(x[:1])[0], x[0].reshape(-1) @ op.matrix)


def test_gaussian_per_image(rng):
    op = GaussianCS(SHAPE, 30, generator=rng, per_image=3)
    assert op.matrix.shape == (3, N, 30)
    x = torch.rand(3, *SHAPE, generator=rng)
    y = op.A(x)
    for b in range(3):
        torch.testing.assert_close(y[b], x[b].reshape(-1) @ op.matrix[b])
    idx = torch.tensor([2, 0, 2, 1])
    y2 = op.A(x[idx], index=idx)
    torch.testing.assert_close(y2, y[idx])
    with pytest.raises(ValueError, match="index"):
        op.A(x[:2])


def test_noise_formula_and_measure(rng):
    assert paper_noise_std(12288, 100) == pytest.approx(0.01)
    assert paper_noise_std(49152, 400) == pytest.approx(0.2 / 20)
    assert paper_noise_std(49152, 8000) == pytest.approx(paper_noise_std(12288, 2000))
    op = GaussianCS(SHAPE, 150, generator=rng, noise_std=0.3)
    x = torch.rand(64, *SHAPE, generator=rng)
    noise = op.measure(x, generator=torch.Generator().manual_seed(5)) - op.A(x)
    assert noise.std().item() == pytest.approx(0.3, rel=0.05)
    # the same generator seed gives the same noise draw
    y1 = op.measure(x, generator=torch.Generator().manual_seed(5))
    y2 = op.measure(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(y1, y2)
    assert GaussianCS(SHAPE, 150).noise_std == pytest.approx(paper_noise_std(N, 150))
    assert StructuredCS(SHAPE, 150).noise_std == pytest.approx(paper_noise_std(N, 150))
    for name in ("inpainting", "sr", "identity"):
        op = make_operator(name, SHAPE)
        assert op.noise_std == 0
        assert torch.equal(op.measure(x[:2]), op.A(x[:2]))


def test_cpu_generator_gives_same_operator_on_every_device(device):
    cpu = GaussianCS(SHAPE, 20, generator=torch.Generator().manual_seed(3))
    dev = GaussianCS(SHAPE, 20, generator=torch.Generator().manual_seed(3), device=device)
    assert torch.equal(cpu.matrix, dev.matrix.cpu())
    x = torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(4))
    y_cpu = cpu.measure(x, generator=torch.Generator().manual_seed(7))
    y_dev = dev.measure(x.to(device), generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(y_dev.cpu(), y_cpu)


@pytest.mark.parametrize("n", [10, 11, 189])
def test_real_fourier_is_orthogonal(n, rng):
    v = torch.randn(4, n, generator=rng, dtype=torch.float64)
    w = real_fourier(v)
    torch.testing.assert_close(w.norm(dim=1), v.norm(dim=1))
    torch.testing.assert_close(real_fourier_inverse(w), v)


def test_structured_rows_and_energy(rng):
    m = 50
    op = StructuredCS(SHAPE, m, generator=rng).double()
    # rows are orthogonal with norm^2 n/m: A A^T = (n/m) I
    eye = torch.eye(m, dtype=torch.float64)
    torch.testing.assert_close(op.A(op.A_adjoint(eye)), eye * N / m)
    # energy is kept on average over the operator's randomness
    x = torch.rand(1, *SHAPE, generator=rng, dtype=torch.float64)
    ratios = [
        (
            StructuredCS(SHAPE, m, generator=torch.Generator().manual_seed(s))
            .double()
            .A(x)
            .pow(2)
            .sum()
            / x.pow(2).sum()
        ).item()
        for s in range(200)
    ]
    assert sum(ratios) / len(ratios) == pytest.approx(1.0, abs=0.1)


def test_structured_memory_is_linear_in_n():
    shape = (3, 128, 128)
    n = math.prod(shape)
    op = StructuredCS(shape, 24000, generator=torch.Generator().manual_seed(0))
    numel = sum(b.numel() for b in op.buffers())
    assert numel <= 3 * n  # perm, signs, rows: no n x m matrix
    x = torch.rand(2, *shape, generator=torch.Generator().manual_seed(1))
    assert op.A(x).shape == (2, 24000)


def test_inpainting_mask(rng):
    op = Inpainting(SHAPE, fraction=0.1, generator=rng)
    assert op.mask.dtype == torch.bool and op.mask.shape == SHAPE
    assert int(op.mask.sum()) == int(0.1 * N) == op.m
    x = torch.rand(2, *SHAPE, generator=rng)
    torch.testing.assert_close(op.A(x), x * op.mask)
    big = Inpainting((3, 32, 32), generator=rng)
    assert not torch.equal(big.mask[0], big.mask[1])  # channels masked independently


def test_super_resolution_matches_interpolate(rng):
    op = SuperResolution((3, 16, 12), factor=4)
    x = torch.rand(2, 3, 16, 12, generator=rng)
    ref = torch.nn.functional.interpolate(x, size=(4, 3), mode="bilinear", align_corners=True)
    torch.testing.assert_close(op.A(x), ref)
    assert op.meas_shape == (3, 4, 3) and op.m == 36


@pytest.mark.parametrize(("name", "kw"), OPS, ids=IDS)
def test_state_dict_roundtrip(name, kw):
    a = build(name, kw, "cpu", seed=1)
    b = build(name, kw, "cpu", seed=2)
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, *SHAPE, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a.A(x), b.A(x))




# ------------------------------------------------------------------ operator groups
GROUPABLE = [("cs", [{"m": 40}, {"m": 100}, {"m": 7}]), ("cs_fast", [{"m": 40}, {"m": 150}]),
             ("inpainting", [{"fraction": 0.1}, {"fraction": 0.5}])]


@pytest.mark.parametrize(("name", "kws"), GROUPABLE, ids=[g[0] for g in GROUPABLE])
@pytest.mark.parametrize("width", [8, None], ids=["lanes", "no-lanes"])
def test_group_loss_is_each_operators_own_bit_for_bit(name, kws, width):
    """Problems of several operators in one batch (2 restarts of 5 images, lanes that
    straddle operators): each problem's loss equals, bit for bit, the loss the recovery
    computes for its operator alone (same lane width), and the padding never enters it."""
    from gs.operator_group import OperatorGroup
    from gs.recovery import clamped_losses, measurement_losses

    ops = [build(name, kw, "cpu", seed=k + 1) for k, kw in enumerate(kws)]
    owner = [k % len(ops) for k in (0, 1, 1, 2, 0)]
    group = OperatorGroup(ops, owner)
    g = torch.Generator().manual_seed(0)
    truth = torch.rand(5, *SHAPE, generator=g)
    y = group.pad([ops[owner[b]].measure(truth[b : b + 1], generator=g) for b in range(5)])
    index = torch.arange(10) // 2  # problem p is image p // 2
    x = torch.rand(10, *SHAPE, generator=g) * 1.2 - 0.1
    got = measurement_losses(group, x, y, index, width)
    clamped = clamped_losses(group, x, y, index, width)
    for k, op in enumerate(ops):
        rows = torch.tensor([p for p in range(10) if owner[p // 2] == k])
        images = sorted({p // 2 for p in rows.tolist()})
        y_k = torch.cat([group.unpad(y, b)[None] for b in images])
        local = torch.tensor([images.index(p // 2) for p in rows.tolist()])
        alone = measurement_losses(op, x[rows], y_k, local, width)
        assert torch.equal(got[rows], alone)
        assert torch.equal(clamped[rows], clamped_losses(op, x[rows], y_k, local, width))
        torch.testing.assert_close(alone, (op.A(x[rows]) - y_k[local]).pow(2).flatten(1).mean(1))
        # A: each image by its own operator, zero-padded
        ax = group.A(x, index)[rows]
        size = math.prod(op.meas_shape)
        assert torch.equal(ax[:, :size], op.A(x[rows]).flatten(1)) and not ax[:, size:].any()
    v = torch.randn(10, *group.meas_shape, dtype=torch.float64, generator=g)
    for p in range(10):
        v[p, math.prod(ops[owner[p // 2]].meas_shape):] = 0
    xd = x.double()
    gd = OperatorGroup([op.double() for op in ops], owner)
    lhs = (gd.A(xd, index) * v).sum()
    rhs = (xd * gd.A_adjoint(v, index)).sum()
    torch.testing.assert_close(lhs, rhs)


def test_group_pad_unpad_measure_and_m():
    from gs.operator_group import OperatorGroup

    ops = [build("cs", {"m": m}, "cpu", seed=m) for m in (30, 60)]
    group = OperatorGroup(ops, torch.tensor([1, 0, 1]))
    assert group.meas_shape == (60,) and group.m == 60 and group.images == 3
    assert [group.m_of(b) for b in range(3)] == [60, 30, 60]
    assert group.operator_of(1) is ops[0]
    x = torch.rand(3, *SHAPE, generator=torch.Generator().manual_seed(0))
    y = group.measure(x, generator=torch.Generator().manual_seed(1))
    g = torch.Generator().manual_seed(1)
    for b in range(3):  # each image by its own operator, one after another
        assert torch.equal(group.unpad(y, b), group.operator_of(b).measure(x[b : b + 1], g)[0])
    assert torch.equal(group.check_measurements(y), y)
    assert [k for k, _ in group.partition()] == [0, 1]


def test_group_bad_inputs_fail_clearly():
    from gs.operator_group import OperatorGroup

    cs = build("cs", {"m": 40}, "cpu")
    with pytest.raises(ValueError, match="one size"):
        OperatorGroup([cs, make_operator("cs", (3, 8, 8), m=40)], [0, 1])
    with pytest.raises(ValueError, match="one type"):
        OperatorGroup([cs, build("cs_fast", {"m": 40}, "cpu")], [0, 1])
    with pytest.raises(ValueError, match="one device and dtype"):
        OperatorGroup([cs, build("cs", {"m": 20}, "cpu").double()], [0, 1])
    with pytest.raises(ValueError, match="per_image"):
        OperatorGroup([build("cs", {"m": 40, "per_image": 2}, "cpu")], [0])
    with pytest.raises(ValueError, match="owner must name operators 0..1"):
        OperatorGroup([cs, build("cs", {"m": 20}, "cpu")], [0, 2])
    with pytest.raises(ValueError, match="at least one operator"):
        OperatorGroup([], [0])
    with pytest.raises(TypeError, match="holds operators"):
        OperatorGroup([cs, "cs"], [0, 1])
    group = OperatorGroup([cs, build("cs", {"m": 20}, "cpu")], [0, 1])
    with pytest.raises(ValueError, match="measures 2 images, got 3"):
        group.pad([torch.zeros(40), torch.zeros(20), torch.zeros(20)])
    with pytest.raises(ValueError, match="image 1 has 40 measurement entries"):
        group.pad([torch.zeros(40), torch.zeros(40)])
    bad = torch.zeros(2, 40)
    bad[1, 30] = 1.0  # beyond image 1's 20 entries
    with pytest.raises(ValueError, match="not zero beyond"):
        group.check_measurements(bad)
    with pytest.raises(ValueError, match="measures 2 images but y holds 3"):
        group.check_measurements(torch.zeros(3, 40))
    with pytest.raises(ValueError, match="different noise levels"):
        _ = group.noise_std
    with pytest.raises(TypeError, match="cannot be subset"):
        group.subset(torch.tensor([0]))
