"""fencecheck: static checker for the dma_fence cross-driver contract."""

__version__ = "0.1.0"
