"""Rendering of Gaussian scenes: colour, depth, alpha and features in one pass."""

from rtgs2.render.api import BACKENDS, RasterSettings, RenderOutput, render

__all__ = ["BACKENDS", "RasterSettings", "RenderOutput", "render"]
