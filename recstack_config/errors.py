"""The one error every recstack config raises."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config value is unknown, of the wrong type or not allowed; the message names its
    dotted key and what to change."""
