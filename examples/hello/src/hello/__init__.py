"""hello: a tiny fixture package built by hermit's tests (hatchling)."""

__version__ = "1.0.0"
