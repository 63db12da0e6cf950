"""Shared fixtures: a seeded ``rng``, a ``device`` that adds CUDA when present, and
``one_thread`` for modules of tiny tensors."""

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


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of tiny tensors: faster on a shared 2-core CPU.
    Use it with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
