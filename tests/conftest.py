"""Suite-wide settings.

Every test runs on one torch thread: on these tiny tensors intra-op threads only add
synchronisation (10× slower on a busy 2-core machine); the setting is restored afterwards.

Hypothesis' per-example deadline (200 ms) measures wall time, so on a loaded 2-core CI machine a
slow first example (imports, a cold cache) can fail a correct property; no test here is about
speed (the benchmarks are), so the deadline is off everywhere.

Interpolators registered by a test are unregistered after it.
"""

import pytest
from hypothesis import settings

settings.register_profile("dopesheet", deadline=None)
settings.load_profile("dopesheet")


@pytest.fixture(autouse=True)
def _one_thread():
    import torch  # here, so that collecting the torch-free temporal tests does not import it

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _interpolator_registry():
    """Interpolators a test registers (``register_interpolator`` is global) are gone after it,
    so that no test sees another's: error messages list the registered names."""
    from mini.temporal import interpolators

    before = dict(interpolators._REGISTRY)
    yield
    interpolators._REGISTRY.clear()
    interpolators._REGISTRY.update(before)
