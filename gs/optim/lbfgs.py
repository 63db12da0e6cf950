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

    Per problem and per :meth:`step` call this runs the algorithm of
    ``torch.optim.LBFGS.step``: evaluate at the start; stop at once if ``max|g| <=
    tolerance_grad``; then up to ``max_iter`` iterations of (history update if
    ``y.s > 1e-10``; two-loop direction; step ``t = min(1, 1/|g|_1) * lr`` on the very
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
        # The history: slots 0..tail-1 in age order (oldest first), SHARED by all problems,
        # so the two-loop recursion walks the same slot for every problem (plain slices, no
        # gathers). A problem that does not store a pair at an iteration (no curvature, or
        # not iterating) gets an empty slot there: ro = 0 makes it an exact no-op. When the
        # slots run out, each problem's pairs are packed to the front (compaction).
        self.count = torch.zeros(P, **zl)  # pairs held per problem (<= history_size)
        self.tail = 0  # next slot to write
        self._cap = 0  # allocated slots (grows up to history_size + SLACK)
        self.valid = torch.zeros(P, 0, dtype=torch.bool, device=self.device)
        self.old_dirs = torch.zeros(P, 0, self.N, **z)  # y = g_k+1 - g_k
        self.old_stps = torch.zeros(P, 0, self.N, **z)  # s = t d
        self.ro = torch.zeros(P, 0, **z)  # 1 / (y . s); 0 in empty slots
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

    #: Slots beyond ``history_size`` before the history is compacted.
    SLACK = 32

    def _grow(self) -> None:
        """Make room for one more slot: allocate more, or pack every problem's pairs to
        the front once ``history_size + SLACK`` slots are in use."""
        if self.tail < self._cap:
            return
        limit = self.history_size + self.SLACK
        if self._cap < limit:
            cap = min(limit, max(2 * self._cap, 8))
            z = dict(dtype=self.dtype, device=self.device)
            grow = cap - self._cap
            self.old_dirs = torch.cat([self.old_dirs, torch.zeros(self.P, grow, self.N, **z)], 1)
            self.old_stps = torch.cat([self.old_stps, torch.zeros(self.P, grow, self.N, **z)], 1)
            self.ro = torch.cat([self.ro, torch.zeros(self.P, grow, **z)], 1)
            self.valid = torch.cat([self.valid, torch.zeros(self.P, grow, dtype=torch.bool,
                                                            device=self.device)], 1)
            self._cap = cap
            return
        # each problem's pairs first (in age order), then its empty slots
        order = torch.sort((~self.valid).to(torch.int8), dim=1, stable=True).indices
        rows = self._ar.unsqueeze(1)
        self.old_dirs = self.old_dirs[rows, order]
        self.old_stps = self.old_stps[rows, order]
        self.ro = self.ro[rows, order]
        self.valid = self.valid[rows, order]
        self.tail = int(self.count.max())

    def _push(self, upd: Tensor, y: Tensor, s: Tensor, ys: Tensor) -> None:
        """Append (y, s, 1/ys) to the history of the problems in ``upd`` (the others get an
        empty slot) and drop the oldest pair of those holding more than ``history_size``."""
        self._grow()
        j = self.tail
        u = upd.unsqueeze(1)
        self.old_dirs[:, j] = torch.where(u, y, 0.0)
        self.old_stps[:, j] = torch.where(u, s, 0.0)
        self.ro[:, j] = torch.where(upd, 1.0 / ys, 0.0)
        self.valid[:, j] = upd
        self.tail += 1
        self.count += upd.long()
        over = self.count > self.history_size
        if bool(over.any()):
            oldest = self.valid.to(torch.int8).argmax(1)  # first valid slot = oldest pair
            drop = torch.zeros_like(self.valid)
            drop[self._ar, oldest] = over
            self.valid &= ~drop
            self.ro = torch.where(drop, 0.0, self.ro)
            self.count -= over.long()

    def _direction(self, g: Tensor, mask: Tensor) -> Tensor:
        """The two-loop recursion ``-H_k g`` for the problems in ``mask`` (others: junk).

        Every problem walks the shared slots newest to oldest, then back; its empty slots
        (``ro = 0``) change nothing, so each problem sees exactly its own pairs in order.
        """
        q = g.neg()
        al = []
        for j in range(self.tail - 1, -1, -1):  # newest to oldest
            a = rowdot(self.old_stps[:, j], q) * self.ro[:, j]
            q.addcmul_(self.old_dirs[:, j], a.neg().unsqueeze(1))
            al.append(a)
        r = q * self.H_diag.unsqueeze(1)
        for i, j in enumerate(range(self.tail)):  # oldest to newest
            be = rowdot(self.old_dirs[:, j], r) * self.ro[:, j]
            r.addcmul_(self.old_stps[:, j], (al[self.tail - 1 - i] - be).unsqueeze(1))
        return r

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
            if bool(later.any()):
                y = g - self.prev_g
                s = self.d * self.t.unsqueeze(1)
                ys = rowdot(y, s)
                upd = later & (ys > 1e-10)
                self._push(upd, y, s, ys)
                self.H_diag = torch.where(upd, ys / rowdot(y, y), self.H_diag)
                d_new = self._direction(g, later)
            else:
                d_new = self.d
            if bool(first.any()):
                self.count[first] = 0
                if self._cap:
                    self.valid[first] = False
                    self.ro[first] = 0.0
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
