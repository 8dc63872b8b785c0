"""Stage: train (see DESIGN.md §3)."""
