"""ClassHub Desktop: administration client for the ClassHub school platform."""

__version__ = "0.1.0"
