import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Deterministic, quick CPU runs (and fair to the other jobs on the machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
