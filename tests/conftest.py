"""Suite-wide settings.

Hypothesis' per-example deadline (200 ms) measures wall time, so on a loaded 2-core CI machine a
slow first example (imports, a cold cache) can fail a correct property; no test here is about
speed (the benchmarks are), so the deadline is off everywhere.
"""

from hypothesis import settings

settings.register_profile("dopesheet", deadline=None)
settings.load_profile("dopesheet")
