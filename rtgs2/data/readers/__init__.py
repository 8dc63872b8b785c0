"""Readers of data set folders: SynthRooms (built), Replica, ScanNet, ScanNet++, INRIA 3DGS output,
COLMAP and nerfstudio; each yields ``SceneViews``.

One module per format, each with a ``READER``: a :class:`~rtgs2.data.readers.base.SceneReader`
(name, how to recognise a scene folder, what a folder lacks, ``read(scene_dir, label_map,
frame_stride)``). :func:`rtgs2.data.open.open_dataset` picks the reader from a folder's contents.
"""
