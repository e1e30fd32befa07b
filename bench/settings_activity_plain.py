"""Settings for ``bench/bench_activity.py``'s plain server: the same code, ``/mcp`` not recording activity."""

from bench.settings_activity import *  # noqa: F401,F403
from bench.settings_activity import MCP_APP

MCP_APP = {**MCP_APP, "ACTIVITY_LOG": False}
