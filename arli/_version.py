"""The package version, defined once (read by hatchling and the User-Agent)."""

__version__ = "0.1.0"
