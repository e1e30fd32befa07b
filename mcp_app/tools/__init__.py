"""Tools, resources and prompts: the public registry (``registry.py``) and the built-in groups."""

from .registry import PromptArgument, ToolContext, ToolError, registry

__all__ = ["PromptArgument", "ToolContext", "ToolError", "registry"]
