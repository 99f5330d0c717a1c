"""Quality benchmark (placeholder docstring)."""
