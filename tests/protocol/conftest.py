"""Hypothesis configuration for the protocol tests.

Randomness policy ("seed randomness and print the seed"): every property test
in this package runs under the ``"protocol"`` profile registered here, which is
**derandomized** (the examples are a pure function of the test, so a run is
exactly reproducible and there is no seed to print) and has **no example
database** (nothing is written to ``.hypothesis/``, so one machine's history
cannot change what another runs). Hypothesis prints the falsifying example,
plus a ``@reproduce_failure`` blob, when a property fails.

The profile is applied per test with ``@settings(PROFILE, max_examples=...)``
rather than loaded globally, so it does not leak into the trio test packages.
Set ``TZK_HYPOTHESIS_RANDOM=1`` to explore with fresh random examples instead;
Hypothesis then prints the seed of a failing run (``--hypothesis-seed=...``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "protocol",
    derandomize=os.environ.get("TZK_HYPOTHESIS_RANDOM") != "1",
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
