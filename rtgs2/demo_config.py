"""The demo's defaults (plain constants: no torch, the CLI's ``--help`` shows them)."""

DEMO_PRESET = "v1"  # the rooms the shipped model was trained on
DEMO_DATA_SEED = 1  # v1 is data set seed 0: seed 1's rooms are none of v1's (checked in run_demo)
DEMO_VIEWS = 50  # views segmented: every 2nd of the room's 100
