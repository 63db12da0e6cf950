
import pytest
import torch

from gs.models.dcgan import DCGAN
from gs.operators import GaussianCS, Identity, make_operator
from gs.optim import BatchedLBFGS, minimize
from gs.recovery import frozen, recover

F64 = torch.float64


def small_dcgan(device="cpu", dtype=torch.float32, seed=0, nz=16, ngf=8) -> DCGAN:
    torch.manual_seed(seed)
    g = DCGAN(nz=nz, ngf=ngf)
    g.latent_shapes(0)  # fill the shape cache in float32 (base._shapes probes in float32)
    return g.to(device=device, dtype=dtype).eval()


# ------------------------------------------------------------ batched L-BFGS
def quadratics(P=5, N=24, seed=0):
    """P least-squares problems with condition numbers 1 .. ~60: they stop at
    different iterations."""
    g = torch.Generator().manual_seed(seed)
    mats = []
    for p in range(P):
        u, _ = torch.linalg.qr(torch.randn(N, N, generator=g, dtype=F64))
        ev = torch.logspace(0, 0.45 * p, N, dtype=F64)
        mats.append(u @ torch.diag(ev) @ u.T / ev.max())
    Q = torch.stack(mats)
    b = torch.randn(P, N, generator=g, dtype=F64)
    x0 = torch.randn(P, N, generator=g, dtype=F64)
    return Q, b, x0


def reference_lbfgs(loss_of, x0, steps, **kw):
    """torch.optim.LBFGS run alone on one problem; iterates after every step."""
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], **kw)

    def closure():
        opt.zero_grad()
        loss = loss_of(x)
        loss.backward()
        return loss

    out = []
    for _ in range(steps):
        opt.step(closure)
        out.append(x.detach().clone())
    return out, opt.state[x]


@pytest.mark.parametrize(
    "kw",
    [
        {"lr": 1.0},
        {"lr": 0.5, "history_size": 4},
        {"lr": 1.0, "max_iter": 7, "tolerance_change": 1e-6},
        {"lr": 1.0, "line_search_fn": "strong_wolfe", "history_size": 6},
    ],
    ids=["default", "short-history", "tolerances", "strong-wolfe"],
)
def test_batched_lbfgs_matches_torch_on_quadratics(kw):
    Q, b, x0 = quadratics()
    P, steps = Q.shape[0], 4
    x = x0.clone().requires_grad_(True)
    opt = BatchedLBFGS([x], **kw)
    batched = []
    for _ in range(steps):
        opt.step(lambda: 0.5 * torch.einsum("pi,pij,pj->p", x, Q, x) - (b * x).sum(1))
        batched.append(x.detach().clone())
    n_iters = set()
    for p in range(P):
        ref, state = reference_lbfgs(
            lambda z, p=p: 0.5 * z @ Q[p] @ z - b[p] @ z, x0[p], steps, **kw
        )
        for k in range(steps):
            torch.testing.assert_close(batched[k][p], ref[k], rtol=1e-9, atol=1e-9)
        assert int(opt.n_iter[p]) == state["n_iter"]
        assert int(opt.func_evals[p]) == state["func_evals"]
        n_iters.add(state["n_iter"])
    assert len(n_iters) > 1  # the problems really stopped at different iterations


def test_batched_lbfgs_matches_torch_on_dcgan_cut1():
    g = small_dcgan(dtype=F64).requires_grad_(False)
    op = GaussianCS((3, 64, 64), 60, generator=torch.Generator().manual_seed(1)).double()
    rng = torch.Generator().manual_seed(2)
    x_true = g(g.sample_latents(3, 0, generator=rng, dtype=F64), cut=0)
    y = op.measure(x_true, generator=rng)
    z0 = g.sample_latents(3, 1, generator=rng, dtype=F64)[0]

    def losses(z):
        return (op.A(g(z, cut=1)) - y).pow(2).mean(1)

    z = z0.clone().requires_grad_(True)
    opt = BatchedLBFGS([z], lr=0.1)
    batched = []
    for _ in range(2):
        opt.step(lambda: losses(z))
        batched.append(z.detach().clone())
    for p in range(3):
        ref, state = reference_lbfgs(
            lambda v, p=p: (op.A(g(v[None], cut=1)) - y[p]).pow(2).mean(), z0[p], 2, lr=0.1
        )
        for k in range(2):
            torch.testing.assert_close(batched[k][p], ref[k], rtol=1e-8, atol=1e-8)
        assert int(opt.func_evals[p]) == state["func_evals"]


def test_batched_lbfgs_several_params_flatten_like_torch():
    Q, b, x0 = quadratics(P=3, N=10)
    a0, c0 = x0[:, :4].reshape(3, 2, 2).clone(), x0[:, 4:].clone()
    a, c = a0.clone().requires_grad_(True), c0.clone().requires_grad_(True)

    def f(a, c):
        x = torch.cat([a.reshape(a.shape[0], -1), c], 1)
        return 0.5 * torch.einsum("pi,pij,pj->p", x, Q, x) - (b * x).sum(1)

    opt = BatchedLBFGS([a, c], lr=1.0)
    for _ in range(2):
        opt.step(lambda: f(a, c))
    for p in range(3):
        ref, _ = reference_lbfgs(lambda z, p=p: 0.5 * z @ Q[p] @ z - b[p] @ z, x0[p], 2, lr=1.0)
        torch.testing.assert_close(torch.cat([a[p].detach().reshape(-1), c[p].detach()]), ref[1])


def test_batched_lbfgs_rejects_bad_params():
    with pytest.raises(ValueError, match="leaf"):
        BatchedLBFGS([torch.zeros(2, 3)])
    with pytest.raises(ValueError, match="leading problem dimension"):
        BatchedLBFGS([torch.zeros(2, 3, requires_grad=True), torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match="strong_wolfe"):
        BatchedLBFGS([torch.zeros(2, 3, requires_grad=True)], line_search_fn="armijo")


# ----------------------------------------------------------------- Adam
def test_batched_adam_matches_per_problem_runs():
    Q, b, x0 = quadratics(P=4, N=12)
    x = x0.clone().requires_grad_(True)
    res = minimize(
        [x],
        lambda: 0.5 * torch.einsum("pi,pij,pj->p", x, Q, x) - (b * x).sum(1),
        optimizer="adam",
        steps=30,
        lr=0.05,
    )
    assert res.trace.shape == (31, 4)
    for p in range(4):
        xp = x0[p].clone().requires_grad_(True)
        adam = torch.optim.Adam([xp], lr=0.05)
        for _ in range(30):
            adam.zero_grad()
            (0.5 * xp @ Q[p] @ xp - b[p] @ xp).backward()
            adam.step()
        torch.testing.assert_close(x[p].detach(), xp.detach(), rtol=1e-12, atol=1e-12)


def test_minimize_trace_and_errors():
    Q, b, x0 = quadratics(P=2, N=6)
    x = x0.clone().requires_grad_(True)
    res = minimize(
        [x], lambda: 0.5 * torch.einsum("pi,pij,pj->p", x, Q, x) - (b * x).sum(1), steps=3, lr=1.0
    )
    assert res.trace.shape == (4, 2)
    assert (res.trace[-1] <= res.trace[0]).all()
    with pytest.raises(ValueError, match="unknown optimizer"):
        minimize([x], lambda: x.sum(1), optimizer="sgd", steps=1, lr=1.0)
    with pytest.raises(ValueError, match="shape"):
        minimize([x], lambda: x.sum(), steps=1, lr=1.0)


# -------------------------------------------------------------- recover
@pytest.fixture(scope="module")
def cs_problem():
    g = small_dcgan()
    rng = torch.Generator().manual_seed(3)
    x_true = g(g.sample_latents(2, 0, generator=rng), cut=0).detach()
    op = make_operator("cs", (3, 64, 64), m=100, generator=rng)
    y = op.measure(x_true, generator=rng)
    return g, op, x_true, y


def test_recover_result_fields_and_selection(cs_problem):
    g, op, x_true, y = cs_problem
    res = recover(g, op, y, cut=1, restarts=3, steps=2, x_true=x_true)
    assert res.images.shape == (2, 3, 64, 64)
    assert res.restart_losses.shape == (2, 3) and res.trace.shape == (3, 2, 3)
    assert res.latents[0].shape == (2, 16 * 4, 4, 4)
    assert torch.equal(res.best_restart, res.restart_losses.argmin(1))
    torch.testing.assert_close(res.loss, res.restart_losses.min(1).values)
    # the returned latents reproduce the returned (unclamped) images and loss
    x = g(res.latents, cut=1)
    torch.testing.assert_close(res.images, x)
    expected = (op.A(x.clamp(0, 1)) - y).pow(2).mean(1).double()
    torch.testing.assert_close(res.loss, expected, rtol=1e-3, atol=1e-9)
    torch.testing.assert_close(
        res.psnr, 10 * torch.log10(1 / (x.clamp(0, 1) - x_true).pow(2).flatten(1).mean(1))
    )
    assert (res.trace[-1] < res.trace[0]).all()
    assert res.n_evals > 2 and res.seconds > 0


def test_best_restart_picks_lowest_measurement_loss():
    g = small_dcgan(dtype=F64)
    rng = torch.Generator().manual_seed(4)
    z_true = g.sample_latents(2, 1, generator=rng, dtype=F64)[0]
    x_true = g(z_true, cut=1).detach()
    op = Identity((3, 64, 64)).double()
    init = g.sample_latents(6, 1, generator=rng, dtype=F64)[0].reshape(2, 3, *z_true.shape[1:])
    init[0, 2] = z_true[0]  # the truth sits in a different restart for each image
    init[1, 1] = z_true[1]
    res = recover(
        g, op, op.measure(x_true), 1, restarts=3, steps=0, init_latents=(init,), x_true=x_true
    )
    assert res.best_restart.tolist() == [2, 1]
    assert float(res.loss.max()) < 1e-20
    assert (res.restart_losses.min(1).values == res.loss).all()
    assert torch.isinf(res.psnr).all() or (res.psnr > 100).all()


def test_recover_cut0_identity_reaches_40db():
    g = small_dcgan(nz=20, ngf=16, seed=1)
    rng = torch.Generator().manual_seed(5)
    x_true = g(g.sample_latents(2, 0, generator=rng), cut=0).detach()
    res = recover(
        g, Identity((3, 64, 64)), x_true, 0, restarts=2, steps=15, lr=1.0, x_true=x_true, seed=1
    )
    assert (res.psnr > 40).all(), res.psnr


def test_same_seed_same_result_and_chunking(cs_problem):
    g, op, x_true, y = cs_problem
    a = recover(g, op, y, 1, restarts=3, steps=2, seed=7)
    b = recover(g, op, y, 1, restarts=3, steps=2, seed=7)
    assert torch.equal(a.images, b.images) and torch.equal(a.trace, b.trace)
    c = recover(g, op, y, 1, restarts=3, steps=2, seed=8)
    assert not torch.equal(a.images, c.images)


def test_chunked_equals_unchunked():
    g = small_dcgan(dtype=F64)
    rng = torch.Generator().manual_seed(6)
    x_true = g(g.sample_latents(2, 0, generator=rng, dtype=F64), cut=0).detach()
    op = make_operator("cs", (3, 64, 64), m=80, generator=rng).double()
    y = op.measure(x_true, generator=rng)
    full = recover(g, op, y, 1, restarts=3, steps=2)
    for kw in ({"chunk_size": 4}, {"memory_budget": 3e6}):
        part = recover(g, op, y, 1, restarts=3, steps=2, **kw)
        assert part.info["n_chunks"] > 1
        torch.testing.assert_close(part.images, full.images, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(part.trace, full.trace, rtol=1e-9, atol=1e-12)
        assert torch.equal(part.best_restart, full.best_restart)


def test_recover_per_image_operator_and_adam(cs_problem, device):
    g, _, x_true, _ = cs_problem
    g = small_dcgan(device=device)
    op = GaussianCS(
        (3, 64, 64), 50, generator=torch.Generator().manual_seed(1), per_image=2, device=device
    )
    y = op.measure(x_true.to(device), generator=torch.Generator().manual_seed(2))
    res = recover(g, op, y, 1, restarts=2, steps=5, lr=0.05, optimizer="adam")
    assert res.images.device.type == device.type
    assert (res.trace[-1] < res.trace[0]).all()
    x = g(res.latents, cut=1)
    loss = (op.A(x.clamp(0, 1)) - y).pow(2).mean(1)
    torch.testing.assert_close(res.loss.float(), loss, rtol=1e-5, atol=1e-7)


def test_recover_with_an_operator_group_equals_each_operator_alone():
    """Images of three operators (m = 100, 300, 50) in ONE recovery: each image's result
    (image, losses, trace, PSNR) is bit-identical to recovering its operator's images
    alone with the same starts (CPU lanes): only the generator work is shared."""
    from gs.operator_group import OperatorGroup

    g = small_dcgan()
    rng = torch.Generator().manual_seed(0)
    x = g(g.sample_latents(5, 0, generator=rng), cut=0).detach().clamp(0, 1)
    ops = [make_operator("cs", (3, 64, 64), m=m, generator=torch.Generator().manual_seed(m))
           for m in (100, 300, 50)]
    owner = [0, 1, 0, 2, 1]
    ys = [ops[k].measure(x[b : b + 1], generator=torch.Generator().manual_seed(b))
          for b, k in enumerate(owner)]
    init = tuple(t.reshape(5, 2, *t.shape[1:]) for t in g.sample_latents(10, 1, generator=rng))
    group = OperatorGroup(ops, owner)
    res = recover(g, group, group.pad(ys), 1, restarts=2, steps=2, init_latents=init, x_true=x)
    for k, op in enumerate(ops):
        bs = [b for b in range(5) if owner[b] == k]
        alone = recover(g, op, torch.cat([ys[b] for b in bs]), 1, restarts=2, steps=2,
                        init_latents=tuple(t[bs] for t in init), x_true=x[bs])
        assert torch.equal(alone.images, res.images[bs])
        assert torch.equal(alone.restart_losses, res.restart_losses[bs])
        assert torch.equal(alone.trace, res.trace[:, bs])
        assert torch.equal(alone.psnr, res.psnr[bs])
    with pytest.raises(ValueError, match="measures 5 images but y holds 4"):
        recover(g, group, group.pad(ys)[:4], 1)


def test_recover_restores_generator_state(cs_problem):
    _, op, _, y = cs_problem
    g = small_dcgan().train()
    g.blocks[0].requires_grad_(False)
    recover(g, op, y, 1, restarts=1, steps=1)
    assert g.training and g.blocks[1][1].training
    assert all(p.requires_grad for p in g.blocks[1].parameters())
    assert not any(p.requires_grad for p in g.blocks[0].parameters())
    with frozen(g):
        assert not g.training and not any(p.requires_grad for p in g.parameters())


def test_recover_bad_inputs(cs_problem):
    g, op, _, y = cs_problem
    with pytest.raises(ValueError, match="y must have shape"):
        recover(g, op, y[:, :10], 1)
    bad = y.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="non-finite"):
        recover(g, op, bad, 1)
    with pytest.raises(ValueError, match="restarts"):
        recover(g, op, y, 1, restarts=0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        recover(g, op, y, 1, optimizer="sgd")
    with pytest.raises(ValueError, match="cut"):
        recover(g, op, y, 9)
    with pytest.raises(ValueError, match="init_latents"):
        recover(g, op, y, 1, restarts=2, init_latents=(torch.zeros(2, 3, 64, 4, 4),))
    with pytest.raises(ValueError, match="restarts must be an int"):
        recover(g, op, y, 1, restarts=1.5)
    with pytest.raises(ValueError, match="chunk_size"):
        recover(g, op, y, 1, chunk_size=0)
    with pytest.raises(ValueError, match="lr must be a finite number"):
        recover(g, op, y, 1, lr=float("nan"), steps=1)
    x = torch.rand(y.shape[0] + 1, *op.image_shape)
    with pytest.raises(ValueError, match="x_true holds 3 images but y holds measurements of 2"
                       if y.shape[0] == 2 else "x_true holds"):
        recover(g, op, y, 1, x_true=x)
    with pytest.raises(ValueError, match="torch.float64 but the generator in torch.float32"):
        recover(g, op.to(torch.float64), y, 1)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="operator is on"):
            recover(g, op.to("cuda"), y, 1)


