"""The package version, in one place (the result JSON and the report name it)."""

__version__ = "0.1.0"
