"""Settings for ``bench/bench_activity.py``'s logged server: ``bench.settings_bench`` as is (``/mcp``
records every session and tool call in the activity log, as in production).

``bench.settings_activity_plain`` is the same code with the recording switched off
(``MCP_APP["ACTIVITY_LOG"] = False``, a switch only this benchmark uses); everything else is identical.
"""

from bench.settings_bench import *  # noqa: F401,F403
from bench.settings_bench import MCP_APP

MCP_APP = {**MCP_APP, "ACTIVITY_LOG": True}
