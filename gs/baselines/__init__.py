"""Baselines the paper compares generator surgery with, under the same operators, noise
and seeds as surgery, each with the call shape of :func:`gs.recovery.recover`:

``recover_xxx(generator_or_None, operator, y, *, restarts, steps, lr, seed, x_true,
progress, ...) -> RecoveryResult``

- :func:`recover_lasso_dct`: Lasso in the 2-D DCT basis (batched FISTA; no generator);
- :func:`recover_iagan`: image-adaptive GAN, latent then latent + all weights;
- :func:`recover_mgan`: mGANprior, N codes mixed at an intermediate layer;
- :func:`recover_deep_decoder`: an untrained Deep Decoder (no generator).

:func:`optimised_parameters_table` counts the numbers each method optimises per image.

>>> optimised_parameters_table().loc["Surgery"].tolist()
[8192, 40960, 32768]
"""

from __future__ import annotations

import pandas as pd
import torch

from gs.baselines.deep_decoder import DD_CPU_LANES, recover_deep_decoder
from gs.baselines.iagan import IAGAN_CPU_LANES, IAGAN_SETTINGS, iagan_num_params, recover_iagan
from gs.baselines.lasso_dct import recover_lasso_dct
from gs.baselines.mgan import MGAN_CPU_LANES, MGAN_SETTINGS, mgan_num_params, recover_mgan
from gs.models.base import BlockGenerator
from gs.models.deep_decoder import DD_SETTINGS
from gs.models.deep_decoder import num_params as dd_num_params

METHODS = ("Surgery", "No surgery", "mGAN", "IAGAN", "DD")


def paper_models() -> dict[str, BlockGenerator]:
    """The paper's three architectures, built on the ``meta`` device (shapes only, no
    memory): ``{"DCGAN": dcgan, "BEGAN": began128, "VAE": vae128}``."""
    from gs.models import build

    with torch.device("meta"):
        return {"DCGAN": build("dcgan"), "BEGAN": build("began128"), "VAE": build("vae128")}


def optimised_parameters_table(
    models: dict[str, BlockGenerator] | None = None,
) -> pd.DataFrame:
    """Numbers optimised per image by each method (rows) for each model (columns).

    Surgery: the latents at the model's default cut; No surgery: the cut-0 latent;
    mGAN: ``N (dim z + C_c)`` (+ BEGAN's free skip) with :data:`MGAN_SETTINGS`; IAGAN:
    all generator weights + the cut-0 latent; DD: the Deep Decoder of the model's
    image size (:data:`~gs.models.deep_decoder.DD_SETTINGS`). ``models`` defaults to
    :func:`paper_models`, for which the table is the paper's (docs/paper.md, "Baselines").
    """
    models = paper_models() if models is None else models
    cols = {}
    for label, g in models.items():
        dd = DD_SETTINGS.get(g.image_size)
        cols[label] = {
            "Surgery": g.latent_dim(g.default_cut),
            "No surgery": g.latent_dim(0),
            "mGAN": mgan_num_params(g),
            "IAGAN": iagan_num_params(g),
            "DD": dd_num_params(dd["k"], dd["depth"]) if dd else None,
        }
    df = pd.DataFrame(cols).reindex(list(METHODS))
    df.index.name = "method"
    return df


__all__ = [
    "DD_CPU_LANES",
    "IAGAN_CPU_LANES",
    "IAGAN_SETTINGS",
    "MGAN_CPU_LANES",
    "MGAN_SETTINGS",
    "METHODS",
    "optimised_parameters_table",
    "paper_models",
    "recover_deep_decoder",
    "recover_iagan",
    "recover_lasso_dct",
    "recover_mgan",
]
