"""gs: Generator Surgery for Compressed Sensing (arXiv 2102.11163), reproducible package."""

__version__ = "0.1.0"
