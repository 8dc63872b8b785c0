"""Stage: eval (see DESIGN.md §3)."""
