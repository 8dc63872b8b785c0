"""The demo's defaults (plain constants: no torch, the CLI's ``--help`` shows them)."""

DEMO_PRESET = "v2"  # the kind of rooms the shipped model was trained on
DEMO_DATA_SEED = 1  # the presets are data set seed 0: seed 1's rooms are none of theirs (checked in run_demo)
DEMO_VIEWS = 32  # views segmented: every 2nd of the room's 64
