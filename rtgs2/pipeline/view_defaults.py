"""Default view sizes and counts of ``rtgs2 segment`` and ``rtgs2 lift`` (plain constants: no
torch, the CLI's ``--help`` shows them)."""

VIEW_WIDTH = 320  # pixels, of the automatic views
VIEW_HEIGHT = 240
ORBIT_VIEWS = 36  # views of segment's automatic orbit when neither cameras nor a count are given
LIFT_VIEWS = 60  # views of lift's automatic coverage when neither cameras nor a count are given
