"""The fuzz suite's budget: a fixed, derandomized number of examples per property, so `make test` stays bounded.

``FUZZ_EXAMPLES`` (test-only, default 60) raises the budget for a longer local run, e.g.
``FUZZ_EXAMPLES=2000 .venv/bin/python -m pytest tests/fuzz``. Hypothesis keeps no example
database, and its caches go to the system's temporary directory, not into the checkout; a failure
prints the reproducing example.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "hypothesis-cache")

settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=None,  # the machine is shared; time is not the property
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("fuzz")
