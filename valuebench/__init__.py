"""valuebench: a benchmark for how well value representations predict value generalization."""

__version__ = "0.1.0"

__all__ = ["__version__"]
