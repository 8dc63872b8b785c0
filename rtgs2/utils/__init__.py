"""What every stage needs: atomic writes, output-folder locks, checkpoints with identity,
progress reporting, seeding and process groups. Imports no torch at module level."""
