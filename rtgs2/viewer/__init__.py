"""Interactive web viewer (viser): a 3DGS scene rendered from the browser's camera as RGB, label
overlay, feature PCA or depth (``rtgs2 view``). Modules: ``camera`` (viser's camera <-> Camera),
``modes`` (one picture per mode), ``server`` (the viser server, per-client render loops)."""
