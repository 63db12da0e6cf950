"""The trainers: one per recipe (DCGAN, BEGAN, BEGAN distillation, VAE).

A :class:`Trainer` owns the generator, its discriminator (if any), optimisers,
schedulers and a training RNG; ``step(x, step)`` does one update and returns the logged
numbers; ``state_dict()`` holds everything needed to resume bit-for-bit. The recipes are
described in :mod:`gs.train`.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import Tensor, nn

from gs.models import build, vae_loss
from gs.models.base import BlockGenerator
from gs.models.discriminators import BEGANDiscriminator, DCGANDiscriminator
from gs.train.config import TrainConfig


def dcgan_weights_init(m: nn.Module) -> None:
    """PyTorch-examples init: conv weights N(0, 0.02); BN weights N(1, 0.02), biases 0."""
    name = type(m).__name__
    if "Conv" in name:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif "BatchNorm" in name:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class Trainer:
    """Base: owns the generator, its optimisers and schedulers, and a training RNG."""

    def __init__(self, cfg: TrainConfig, device: torch.device, steps_per_epoch: int,
                 total_steps: int):
        self.cfg, self.device = cfg, device
        self.steps_per_epoch, self.total_steps = steps_per_epoch, total_steps
        self.gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + 1)
        self.amp = (device.type == "cuda") if cfg.amp is None else cfg.amp
        self.G: BlockGenerator = build(cfg.model_name, **cfg.model_kwargs).to(device)

    def autocast(self):
        if self.amp and self.device.type in ("cuda", "cpu"):
            dtype = torch.bfloat16
            return torch.autocast(device_type=self.device.type, dtype=dtype)
        return nullcontext()

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.G}

    def optimizers(self) -> dict[str, Any]:
        raise NotImplementedError

    def step(self, x: Tensor, step: int) -> dict[str, float]:
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {
            "modules": {k: m.state_dict() for k, m in self.modules().items()},
            "optim": {k: o.state_dict() for k, o in self.optimizers().items()},
            "gen": self.gen.get_state(),
        }

    def load_state_dict(self, state: dict) -> None:
        for k, m in self.modules().items():
            m.load_state_dict(state["modules"][k])
        for k, o in self.optimizers().items():
            o.load_state_dict(state["optim"][k])
        self.gen.set_state(state["gen"].cpu())

    @torch.no_grad()
    def sample(self, z: Tensor) -> Tensor:
        was = self.G.training
        self.G.eval()
        out = self.G(z.to(self.device), cut=0).float().clamp(0, 1).cpu()
        self.G.train(was)
        return out

    def sample_latents(self, n: int, seed: int) -> Tensor:
        raise NotImplementedError


class DCGANTrainer(Trainer):
    """PyTorch-examples DCGAN updates (D on real + fake, then G), BCE with float labels."""

    def __init__(self, cfg, device, steps_per_epoch, total_steps):
        super().__init__(cfg, device, steps_per_epoch, total_steps)
        self.D = DCGANDiscriminator(**cfg.disc_kwargs).to(device)
        self.G.apply(dcgan_weights_init)
        self.D.apply(dcgan_weights_init)
        lr = cfg.recipe_lr
        self.optG = torch.optim.Adam(self.G.parameters(), lr=lr, betas=(0.5, 0.999))
        self.optD = torch.optim.Adam(self.D.parameters(), lr=lr, betas=(0.5, 0.999))
        self.bce = nn.BCEWithLogitsLoss()

    def modules(self):
        return {"G": self.G, "D": self.D}

    def optimizers(self):
        return {"G": self.optG, "D": self.optD}

    def sample_latents(self, n, seed):
        return torch.randn((n, *self.G.latent_shapes(0)[0]),
                           generator=torch.Generator().manual_seed(seed))

    def step(self, x, step):
        b = x.shape[0]
        real = x * 2 - 1
        ones = torch.full((b,), 1.0, device=self.device)  # float labels
        zeros = torch.full((b,), 0.0, device=self.device)
        z = torch.randn((b, *self.G.latent_shapes(0)[0]), generator=self.gen, device=self.device)
        # (1) D: maximise log D(x) + log(1 - D(G(z)))
        self.optD.zero_grad(set_to_none=True)
        with self.autocast():
            out_real = self.D(real)
            fake = self.G(z, cut=0) * 2 - 1
            out_fake = self.D(fake.detach())
        err_real = self.bce(out_real.float(), ones)
        err_fake = self.bce(out_fake.float(), zeros)
        (err_real + err_fake).backward()
        self.optD.step()
        # (2) G: maximise log D(G(z))
        self.optG.zero_grad(set_to_none=True)
        with self.autocast():
            out = self.D(fake)
        err_g = self.bce(out.float(), ones)
        err_g.backward()
        self.optG.step()
        return {
            "loss_D": float((err_real + err_fake).detach()),
            "loss_G": float(err_g.detach()),
            "D_x": float(torch.sigmoid(out_real.detach().float()).mean()),
            "D_G_z": float(torch.sigmoid(out_fake.detach().float()).mean()),
        }


class BEGANTrainer(Trainer):
    """BEGAN with an autoencoder discriminator and the k-controlled equilibrium."""

    def __init__(self, cfg, device, steps_per_epoch, total_steps):
        super().__init__(cfg, device, steps_per_epoch, total_steps)
        dkw = {"ch": self.G.ch, **cfg.disc_kwargs}
        self.D = BEGANDiscriminator(image_size=cfg.image_size,
                                    latent_dim=self.G.latent_dim_z, **dkw).to(device)
        lr = cfg.recipe_lr
        self.optG = torch.optim.Adam(self.G.parameters(), lr=lr)
        self.optD = torch.optim.Adam(self.D.parameters(), lr=lr)
        eta_min = cfg.lr_min_factor * lr
        self.schedG = torch.optim.lr_scheduler.CosineAnnealingLR(self.optG, total_steps, eta_min)
        self.schedD = torch.optim.lr_scheduler.CosineAnnealingLR(self.optD, total_steps, eta_min)
        self.k = 0.0
        self._pG = [p for p in self.G.parameters()]
        self._pD = [p for p in self.D.parameters()]

    def modules(self):
        return {"G": self.G, "D": self.D}

    def optimizers(self):
        return {"G": self.optG, "D": self.optD, "schedG": self.schedG, "schedD": self.schedD}

    def state_dict(self):
        return {**super().state_dict(), "k": self.k}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.k = float(state["k"])

    def sample_latents(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.rand((n, self.G.latent_dim_z), generator=g) * 2 - 1

    def step(self, x, step):
        b = x.shape[0]
        z = torch.rand((b, self.G.latent_dim_z), generator=self.gen, device=self.device) * 2 - 1
        with self.autocast():
            fake = self.G(z, cut=0)
            rec = self.D(torch.cat([x, fake]))
        rec = rec.float()
        l_real = (rec[:b] - x).abs().mean()
        l_fake = (rec[b:] - fake.float()).abs().mean()
        # simultaneous updates from one forward pass: D gets grad of L(x) - k L(G(z)),
        # G gets grad of L(G(z)) (through both the target G(z) and D(G(z)))
        g_d = torch.autograd.grad(l_real - self.k * l_fake, self._pD, retain_graph=True)
        g_g = torch.autograd.grad(l_fake, self._pG)
        for p, g in zip(self._pD, g_d, strict=True):
            p.grad = g
        for p, g in zip(self._pG, g_g, strict=True):
            p.grad = g
        self.optD.step()
        self.optG.step()
        self.schedD.step()
        self.schedG.step()
        lr_, lf_ = float(l_real.detach()), float(l_fake.detach())
        balance = self.cfg.gamma * lr_ - lf_
        self.k += self.cfg.lambda_k * balance
        if self.cfg.clamp_k:
            self.k = min(max(self.k, 0.0), 1.0)
        return {"L_real": lr_, "L_fake": lf_, "k": self.k, "M_global": lr_ + abs(balance),
                "lr": self.optG.param_groups[0]["lr"]}


class BEGANDistillTrainer(Trainer):
    """Not the paper's recipe: the BEGAN generator regressed (L1) onto the DigiFace DCGAN.

    Uses :meth:`DigiFaceStream.next_pair`: ``G(u) ~ T(z(u))`` with ``u`` uniform in
    (-1, 1)^64 (BEGAN's prior). Adam with the recipe's lr and cosine annealing. A cheap,
    stable way to get a BEGAN-architecture face generator on a CPU; ``--objective distill``.
    """

    wants_pairs = True

    def __init__(self, cfg, device, steps_per_epoch, total_steps):
        super().__init__(cfg, device, steps_per_epoch, total_steps)
        lr = cfg.recipe_lr
        self.optG = torch.optim.Adam(self.G.parameters(), lr=lr)
        self.schedG = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optG, total_steps, cfg.lr_min_factor * lr)

    def optimizers(self):
        return {"G": self.optG, "schedG": self.schedG}

    def sample_latents(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        return torch.rand((n, self.G.latent_dim_z), generator=g) * 2 - 1

    def step(self, batch, step):
        u, x = batch
        self.optG.zero_grad(set_to_none=True)
        with self.autocast():
            out = self.G(u, cut=0)
        loss = (out.float() - x).abs().mean()
        loss.backward()
        self.optG.step()
        self.schedG.step()
        return {"L1": float(loss.detach()), "lr": self.optG.param_groups[0]["lr"]}


class VAETrainer(Trainer):
    """VAE: per-image SSE + beta KL, AdamW, ExponentialLR(0.9) per epoch."""

    def __init__(self, cfg, device, steps_per_epoch, total_steps):
        super().__init__(cfg, device, steps_per_epoch, total_steps)
        self.opt = torch.optim.AdamW(self.G.parameters(), lr=cfg.recipe_lr)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=cfg.lr_gamma)

    def optimizers(self):
        return {"opt": self.opt, "sched": self.sched}

    def sample_latents(self, n, seed):
        return torch.randn((n, self.G.latent_dim_z), generator=torch.Generator().manual_seed(seed))

    def step(self, x, step):
        self.opt.zero_grad(set_to_none=True)
        with self.autocast():
            x_hat, mu, logvar = self.G.reconstruct(x, generator=self.gen)
        loss = vae_loss(x, x_hat.float(), mu.float(), logvar.float(), self.cfg.beta)
        loss.backward()
        self.opt.step()
        if (step + 1) % self.steps_per_epoch == 0:
            self.sched.step()
        with torch.no_grad():
            sse = (x_hat.float() - x).pow(2).flatten(1).sum(1).mean()
        loss = loss.detach()
        return {"loss": float(loss), "sse": float(sse), "kl": float(loss - sse),
                "lr": self.opt.param_groups[0]["lr"]}


TRAINERS = {"dcgan": DCGANTrainer, "began": BEGANTrainer, "vae": VAETrainer}
