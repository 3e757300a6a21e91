"""Task pieces that turn features into scores and scores into metrics (see ARCHITECTURE.md's task seam)."""
