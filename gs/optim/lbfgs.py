"""L-BFGS for many independent problems at once, with ``torch.optim.LBFGS`` semantics."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from gs.optim.best import DIVERGENCE_FACTOR, BestIterate, check_positive, rowdot, rowsum


class BatchedLBFGS:
    """L-BFGS for ``P`` independent problems, with ``torch.optim.LBFGS`` semantics.

    Args:
        params: tensors (leaf, ``requires_grad``) with a leading problem dimension ``P``.
            Problem ``p`` optimises the concatenation of ``t[p].flatten()`` over ``params``
            (the order ``torch.optim.LBFGS`` flattens a list of per-problem tensors in).
        lr, max_iter, max_eval, tolerance_grad, tolerance_change, history_size,
        line_search_fn: as in ``torch.optim.LBFGS`` (defaults identical: max_iter 20,
            max_eval ``max_iter * 5 // 4``, history 100, no line search).
        divergence_factor: a problem whose loss is non-finite or above this multiple of
            its best stops at its best point (:class:`~gs.optim.best.BestIterate`).
        lanes: run the products with the history on groups of exactly this many problems
            (the last group zero-padded), so that on the CPU a problem's iterates do not
            depend on the other problems of the batch; None: one call for all.

    Per problem and per :meth:`step` call this runs the algorithm of
    ``torch.optim.LBFGS.step``: evaluate at the start; stop at once if ``max|g| <=
    tolerance_grad``; then up to ``max_iter`` iterations of (history update if
    ``y.s > 1e-10``; direction ``-H g``; step ``t = min(1, 1/|g|_1) * lr`` on the very
    first iteration, else ``lr``; stop if ``g.d > -tolerance_change``; move; re-evaluate
    unless it is the last iteration; stop on max_eval, ``max|g| <= tolerance_grad``,
    ``max|t d| <= tolerance_change`` or ``|f - f_prev| < tolerance_change``). A problem
    that stops is frozen (its updates masked) until the next :meth:`step` call; the
    state persists across calls. The closure is evaluated for all problems at once.

    ``line_search_fn="strong_wolfe"`` is supported but NOT batched: the line search of
    each active problem runs in a Python loop and every trial point costs one evaluation
    of the whole batch. It is correct, and slow for large ``P``.

    The closure returns per-problem losses ``(P,)`` with a graph to ``params``; the
    optimiser differentiates ``loss.sum()`` itself (do not call ``backward``).
    """

    def __init__(
        self,
        params: Sequence[Tensor],
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
        divergence_factor: float | None = DIVERGENCE_FACTOR,
        lanes: int | None = None,
    ):
        self.params = list(params)
        if not self.params:
            raise ValueError("BatchedLBFGS needs at least one parameter tensor")
        P = self.params[0].shape[0]
        for t in self.params:
            if t.ndim < 1 or t.shape[0] != P:
                raise ValueError("every parameter must have the same leading problem dimension")
            if not t.requires_grad or not t.is_leaf:
                raise ValueError("parameters must be leaf tensors with requires_grad=True")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(
                f"only 'strong_wolfe' line search is supported, got {line_search_fn!r}"
            )
        check_positive(lr=lr)
        if divergence_factor is not None:
            check_positive(divergence_factor=divergence_factor)
        self.divergence_factor = divergence_factor
        self.lr = float(lr)
        self.max_iter = int(max_iter)
        self.max_eval = int(max_eval) if max_eval is not None else self.max_iter * 5 // 4
        self.tolerance_grad = tolerance_grad
        self.tolerance_change = tolerance_change
        for name, v in (("history_size", history_size), ("max_iter", max_iter)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        self.history_size = int(history_size)
        if lanes is not None and (isinstance(lanes, bool) or not isinstance(lanes, int)
                                  or lanes < 1):
            raise ValueError(f"lanes must be an int >= 1 or None, got {lanes!r}")
        self.line_search_fn = line_search_fn
        self.P = P
        self.N = sum(t[0].numel() for t in self.params)
        ref = self.params[0]
        self.dtype, self.device = ref.dtype, ref.device
        z = dict(dtype=self.dtype, device=self.device)
        zl = dict(dtype=torch.long, device=self.device)
        self.n_iter = torch.zeros(P, **zl)  # iterations so far (state["n_iter"])
        self.func_evals = torch.zeros(P, **zl)  # evaluations each problem needed alone
        self.n_batched_evals = 0  # calls of the closure
        self.d = torch.zeros(P, self.N, **z)
        self.t = torch.zeros(P, **z)
        self.prev_g = torch.zeros(P, self.N, **z)
        self.prev_loss = torch.zeros(P, dtype=torch.float64, device=self.device)
        self.H_diag = torch.ones(P, **z)
        # The history, in the compact form of Byrd, Nocedal and Schnabel (1994): every
        # problem keeps its last pairs (s, y) in a ring of ``history_size`` slots (rows of
        # ``hist``: s in the first half, y in the second; oldest pair at slot ``head``
        # once the ring is full) and the inner products between them (float64). ``-H g``
        # is then two batched matrix products over the history and a small triangular
        # system per problem, instead of ~4 x history_size vector operations of the
        # two-loop recursion. Same H, so the same iterates up to rounding (float64 tests
        # against torch.optim.LBFGS to 1e-9). Fixed shapes, masks instead of indexing.
        self.lanes = lanes
        self.head = torch.zeros(P, **zl)  # slot of the next pair
        self.npairs = torch.zeros(P, **zl)  # pairs held (<= history_size)
        self.hist: Tensor | None = None  # (P padded to whole lanes, 2K, N), made at first use
        K = self.history_size
        f64 = dict(dtype=torch.float64, device=self.device)
        self.sty = torch.zeros(P, K, K, **f64)  # s_i . y_j, slot coordinates
        self.yty = torch.zeros(P, K, K, **f64)  # y_i . y_j
        self._ar = torch.arange(P, device=self.device)
        self.best = BestIterate(self.params, divergence_factor)
        self._tracking = True  # off while a line search evaluates trial points

    # ------------------------------------------------------------- helpers
    def _flat(self, tensors: Sequence[Tensor]) -> Tensor:
        return torch.cat([t.reshape(self.P, -1) for t in tensors], dim=1)

    def _evaluate(self, closure: Callable[[], Tensor]) -> tuple[Tensor, Tensor]:
        with torch.enable_grad():
            loss = closure()
            if loss.shape != (self.P,):
                raise ValueError(
                    f"the closure must return losses of shape ({self.P},), got {tuple(loss.shape)}"
                )
            grads = torch.autograd.grad(loss.sum(), self.params, allow_unused=True)
        grads = [
            torch.zeros_like(p) if g is None else g for p, g in zip(self.params, grads, strict=True)
        ]
        self.n_batched_evals += 1
        loss = loss.detach().to(self.dtype)
        if self._tracking:
            self.best.update(loss)
        return loss, self._flat(grads).to(self.dtype)

    @property
    def diverged(self) -> Tensor:
        """``(P,)`` bool: problems stopped because they diverged."""
        return self.best.diverged

    def restore_best(self) -> None:
        """Put every problem at the best iterate it has seen."""
        self.best.restore()

    @torch.no_grad()
    def _add(self, step: Tensor, mask: Tensor) -> None:
        """``x[p] += step[p]`` for the problems in ``mask`` (``step: (P, N)``)."""
        step = step * mask.to(step.dtype).unsqueeze(1)
        off = 0
        for p in self.params:
            k = p[0].numel()
            p.add_(step[:, off : off + k].view_as(p))
            off += k

    @torch.no_grad()
    def _set_row(self, i: int, flat: Tensor) -> None:
        off = 0
        for p in self.params:
            k = p[0].numel()
            p[i].copy_(flat[off : off + k].view_as(p[i]))
            off += k

    def _in_lanes(self, fn: Callable[..., Tensor], *rows: Tensor) -> Tensor:
        """``fn(hist_rows, *rows)`` on lanes of ``self.lanes`` problems (one call if None).

        Every call sees the same shapes (``hist`` has whole lanes; ``rows`` are zero-padded
        to them), so a problem's products do not depend on the other problems, as for
        the generator's evaluations (:func:`gs.optim.lanes.in_lanes`)."""
        P, w = self.P, self.lanes or self.P
        Pp = self.hist.shape[0]
        if Pp > P:
            rows = tuple(torch.cat([r, r.new_zeros(Pp - P, *r.shape[1:])]) for r in rows)
        out = [fn(self.hist[lo : lo + w], *(r[lo : lo + w] for r in rows))
               for lo in range(0, Pp, w)]
        return torch.cat(out)[:P]

    def _history_products(self, s: Tensor, y: Tensor, g: Tensor) -> Tensor:
        """``(P, 2K, 3)``: every stored s_i and y_i against ``s``, ``y`` and ``g``."""
        return self._in_lanes(torch.bmm, torch.stack([s, y, g], 2))

    @torch.no_grad()
    def _push(self, upd: Tensor, s: Tensor, y: Tensor, g: Tensor, ys: Tensor) -> Tensor:
        """Store (s, y) for the problems in ``upd`` at their ring slot ``head`` (dropping
        their oldest pair once ``history_size`` are held) and update the inner products.

        Returns the products of the (new) history with ``g``: ``(P, 2K)``."""
        K, P = self.history_size, self.P
        if self.hist is None:
            w = self.lanes or P
            self.hist = torch.zeros(-(-P // w) * w, 2 * K, self.N, dtype=self.dtype,
                                    device=self.device)
        ar, j = self._ar, self.head
        u = upd.unsqueeze(1)
        self.hist[ar, j] = torch.where(u, s, self.hist[ar, j])
        self.hist[ar, K + j] = torch.where(u, y, self.hist[ar, K + j])
        prods = self._history_products(s, y, g).double()  # (P, 2K, 3)
        s_dot_y = prods[:, :K, 1]  # s_i . y_new
        y_dot_s = prods[:, K:, 0]  # y_i . s_new
        y_dot_y = prods[:, K:, 1]  # y_i . y_new
        at = torch.nn.functional.one_hot(j, K).bool() & u  # (P, K): the new slot
        col, row = at[:, None, :], at[:, :, None]
        self.sty = torch.where(col, s_dot_y[:, :, None], self.sty)
        self.sty = torch.where(row, y_dot_s[:, None, :], self.sty)
        self.sty = torch.where(row & col, ys.double()[:, None, None], self.sty)
        self.yty = torch.where(col, y_dot_y[:, :, None], self.yty)
        self.yty = torch.where(row, y_dot_y[:, None, :], self.yty)
        self.head = torch.where(upd, (j + 1) % K, j)
        self.npairs = torch.where(upd, torch.clamp(self.npairs + 1, max=K), self.npairs)
        return prods[:, :, 2]

    def _direction(self, g: Tensor, hg: Tensor) -> Tensor:
        """``-H g`` per problem from the products ``hg = [S; Y] g`` (``(P, 2K)``).

        With the pairs in age order (oldest first), ``R = triu(S'Y)``, ``D = diag(S'Y)``
        and ``gamma = H_diag``: ``H g = gamma g + S p - gamma Y u`` where ``R u = S'g``
        and ``R' p = (D + gamma Y'Y) u - gamma Y'g`` (Byrd, Nocedal and Schnabel 1994,
        eq. 3.13). Slots a problem does not hold are masked out: a unit diagonal in
        ``R`` and zero products give them zero coefficients, so they change nothing.
        """
        K, P = self.history_size, self.P
        r = torch.arange(K, device=self.device)
        perm = (self.head[:, None] + r) % K  # slots, oldest first
        held = (r[None, :] >= K - self.npairs[:, None]).double()
        a = hg[:, :K].gather(1, perm) * held
        b = hg[:, K:].gather(1, perm) * held

        def age_order(m: Tensor) -> Tensor:
            m = m.gather(1, perm[:, :, None].expand(P, K, K))
            m = m.gather(2, perm[:, None, :].expand(P, K, K))
            return m * held[:, :, None] * held[:, None, :]

        sty, yty = age_order(self.sty), age_order(self.yty)
        R = torch.triu(sty) + torch.diag_embed(1.0 - held)
        gamma = self.H_diag.double()[:, None, None]
        u = torch.linalg.solve_triangular(R, a[:, :, None], upper=True)
        w = sty.diagonal(dim1=1, dim2=2)[:, :, None] * u + gamma * (yty @ u) - gamma * b[:, :, None]
        p = torch.linalg.solve_triangular(R.transpose(1, 2), w, upper=False)
        coef = torch.zeros(P, 2 * K, dtype=torch.float64, device=self.device)
        coef[:, :K].scatter_(1, perm, p[:, :, 0])
        coef[:, K:].scatter_(1, perm, (-gamma * u)[:, :, 0])
        Hg = self._in_lanes(lambda h, c: torch.bmm(c[:, None, :], h)[:, 0],
                            coef.to(self.dtype))
        return -(g * self.H_diag.unsqueeze(1) + Hg)

    # ---------------------------------------------------------------- step
    def step(self, closure: Callable[[], Tensor]) -> Tensor:
        """One ``torch.optim.LBFGS.step`` per problem; returns the losses ``(P,)`` at the
        start of the step (what ``torch.optim.LBFGS.step`` returns)."""
        tol_change = self.tolerance_change
        loss, g = self._evaluate(closure)
        orig_loss = loss.clone()
        self.func_evals += 1
        cur_evals = torch.ones(self.P, dtype=torch.long, device=self.device)
        active = ~(g.abs().amax(1) <= self.tolerance_grad) & ~self.diverged
        opt_cond = ~active

        it = 0
        while it < self.max_iter and bool(active.any()):
            it += 1
            self.n_iter += active.long()
            first = active & (self.n_iter == 1)
            later = active & ~first

            # ---- direction: history update, then two-loop; first iteration: -g
            y = g - self.prev_g
            s = self.d * self.t.unsqueeze(1)
            ys = rowdot(y, s)
            upd = later & (ys > 1e-10)
            hg = self._push(upd, s, y, g, ys)
            self.H_diag = torch.where(upd, ys / rowdot(y, y), self.H_diag)
            d_new = self._direction(g, hg)
            self.npairs = torch.where(first, 0, self.npairs)
            self.H_diag = torch.where(first, 1.0, self.H_diag)
            d_new = torch.where(first.unsqueeze(1), g.neg(), d_new)
            self.d = torch.where(active.unsqueeze(1), d_new, self.d)
            self.prev_g = torch.where(active.unsqueeze(1), g, self.prev_g)
            prev_loss = torch.where(active, loss.double(), self.prev_loss)
            self.prev_loss = prev_loss

            # ---- step length
            t_first = torch.clamp(1.0 / rowsum(g.abs()), max=1.0) * self.lr
            t_new = torch.where(first, t_first, torch.full_like(t_first, self.lr))
            self.t = torch.where(active, t_new, self.t)
            gtd = rowdot(g, self.d)
            active = active & ~(gtd > -tol_change)
            if not bool(active.any()):
                break

            if self.line_search_fn is None:
                self._add(self.d * self.t.unsqueeze(1), active)
                if it != self.max_iter:
                    new_loss, new_g = self._evaluate(closure)
                    active = active & ~self.diverged
                    loss = torch.where(active, new_loss, loss)
                    g = torch.where(active.unsqueeze(1), new_g, g)
                    opt_cond = g.abs().amax(1) <= self.tolerance_grad
                    cur_evals += active.long()
                    self.func_evals += active.long()
            else:
                # trial points of the line search are not iterates: only the accepted point
                # counts for the best iterate and for divergence
                self._tracking = False
                try:
                    loss, g, ls_evals = self._line_search(
                        closure, active, first, loss, g, gtd, cur_evals
                    )
                finally:
                    self._tracking = True
                self.best.update(loss)
                active = active & ~self.diverged
                opt_cond = g.abs().amax(1) <= self.tolerance_grad
                cur_evals += ls_evals
                self.func_evals += ls_evals

            # ---- stopping, per problem
            if it == self.max_iter:
                break
            stop = (
                (cur_evals >= self.max_eval)
                | opt_cond
                | ((self.d * self.t.unsqueeze(1)).abs().amax(1) <= tol_change)
                | ((loss.double() - prev_loss).abs() < tol_change)
            )
            active = active & ~stop
        return orig_loss

    def _line_search(self, closure, active, first, loss, g, gtd, cur_evals):
        """Strong-Wolfe line search per active problem (a Python loop; not batched)."""
        try:
            from torch.optim.lbfgs import _strong_wolfe
        except ImportError as e:  # pragma: no cover - private torch API
            raise RuntimeError("this torch has no torch.optim.lbfgs._strong_wolfe") from e
        loss, g = loss.clone(), g.clone()
        ls_evals = torch.zeros(self.P, dtype=torch.long, device=self.device)
        x_all = self._flat([p.detach() for p in self.params]).clone()
        for i in self._ar[active].tolist():
            x_init = x_all[i].clone()

            def obj_func(x, t, d, i=i):
                self._set_row(i, x + t * d)
                lo, gr = self._evaluate(closure)
                self._set_row(i, x)
                return float(lo[i]), gr[i]

            t0 = self.t[i] if bool(first[i]) else self.lr
            f, gi, t, n = _strong_wolfe(
                obj_func,
                x_init,
                t0,
                self.d[i],
                float(loss[i]),
                g[i],
                gtd[i],
                max_ls=self.max_eval - int(cur_evals[i]),
            )
            self._set_row(i, x_init + t * self.d[i])
            self.t[i] = float(t)
            loss[i], g[i], ls_evals[i] = f, gi, n
        return loss, g, ls_evals
