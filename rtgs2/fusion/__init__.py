"""Stage: fusion (see DESIGN.md §3)."""
