"""Shared fixtures: a seeded ``rng`` and a ``device`` that adds CUDA when present."""

import pytest
import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Every test that takes ``device`` runs on the CPU and, when present, the GPU."""
    return torch.device(request.param)


@pytest.fixture
def rng() -> torch.Generator:
    """A freshly seeded CPU generator (seed 0) for each test."""
    return torch.Generator().manual_seed(0)
