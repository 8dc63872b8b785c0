"""SynthRooms generator: procedural labelled indoor scenes with exact ground truth and a 3DGS
per scene. Rooms look and are built like real ones (per-class materials, light sources, real
sizes, hand-held cameras), so that what the networks learn carries over to captured rooms. A
stage above ``recon`` (fitted mode runs it); it writes the format that
:mod:`rtgs2.data.readers.synthrooms` reads.

- :mod:`.config`     ``SynthConfig``, ``LayoutConfig``, presets, cache location (no torch: the CLI reads it)
- :mod:`.layout`     rooms from a seed: walls, doors, windows, furniture, small objects
- :mod:`.furniture`  furniture templates built from primitives
- :mod:`.materials`  the material pool shared by every class (colours, procedural textures)
- :mod:`.room`       ``Room``: a scene as flat primitive arrays
- :mod:`.cameras`    smooth collision-free camera paths at human height
- :mod:`.raycast`    exact ray caster: RGB, depth, label, instance ground truth (numba)
- :mod:`.gaussians`  a scene's 3DGS: surface-sampled discs or a ``recon`` fit
- :mod:`.build`      ``build_synthrooms(out, preset)``: a whole data set, resumable

Import the modules themselves (``from rtgs2.synth.build import build_synthrooms``): this package
imports nothing, so reading the config stays light.
"""
