"""C engine generation (issue 4)."""
