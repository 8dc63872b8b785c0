"""Readers of real data sets and 3DGS/COLMAP/nerfstudio folders; each yields ``SceneViews``.

One module per format; :func:`rtgs2.data.open.open_dataset` picks the reader from a folder's
contents. Every module has ``is_scene(path)``, ``describe_missing(path)`` and a reader of one
scene folder.
"""
