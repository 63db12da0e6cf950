"""Root pytest configuration: markers that are deselected when they cannot run.

- ``gpu`` tests are skipped when no CUDA device is present;
- ``requires_download`` tests run only with ``GS_ALLOW_DOWNLOAD=1``;
- ``slow`` tests run only with ``GS_RUN_SLOW=1``.
"""

import os

import pytest
import torch


def pytest_collection_modifyitems(config, items):
    skip_gpu = pytest.mark.skip(reason="no CUDA device")
    skip_dl = pytest.mark.skip(reason="needs the network; set GS_ALLOW_DOWNLOAD=1")
    skip_slow = pytest.mark.skip(reason="slow; set GS_RUN_SLOW=1")
    for item in items:
        if "gpu" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_gpu)
        if "requires_download" in item.keywords and os.environ.get("GS_ALLOW_DOWNLOAD") != "1":
            item.add_marker(skip_dl)
        if "slow" in item.keywords and os.environ.get("GS_RUN_SLOW") != "1":
            item.add_marker(skip_slow)
