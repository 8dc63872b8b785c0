"""Stage: recon (see DESIGN.md §3)."""
