"""Settings for the conformance test's daphne: the product settings plus the test-only fixture app.

Nothing is switched off: every /mcp request still needs a bearer JWT with scope ``mcp``.
"""

from project.settings import *
from project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.conformance_app"]
