"""Session fixtures of the recon tests."""

import pytest
import torch

from tests.recon.known_scene import KnownScene, make_known_scene


@pytest.fixture(scope="session")
def known() -> KnownScene:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: extra threads only contend with parallel test workers
    try:
        return make_known_scene()
    finally:
        torch.set_num_threads(before)
