"""Settings for the e2e (SDK) and scale-out daphne processes: the product settings plus the demo streaming tool.

Nothing is switched off: every /mcp request still needs a bearer JWT with scope ``mcp``.
"""

from project.settings import *  # noqa: F401,F403
from project.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.conformance_app.apps.StreamingDemoConfig"]
