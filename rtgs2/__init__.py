"""rtgs2: real-time generalizable semantic segmentation of 3D Gaussian Splatting scenes."""

__version__ = "0.1.0"
