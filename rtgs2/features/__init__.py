"""Stage: features (see DESIGN.md §3)."""
