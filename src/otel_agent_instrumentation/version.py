"""The one version string of the distribution (hatch reads it)."""

__version__ = "0.1.0"
