"""Fixtures shared by the test folders."""
import pytest
import torch


@pytest.fixture
def one_thread():
    """One intra-op torch thread: small 3D convolutions gain nothing from more, and
    spinning OpenMP threads slow down badly on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
