"""refsr: reference-based super-resolution of light fields and video (RefSR-Net)."""
from refsr.degrade import SCALE, degrade, upsample

__version__ = "0.1.0"
__all__ = ["SCALE", "degrade", "upsample", "__version__"]
