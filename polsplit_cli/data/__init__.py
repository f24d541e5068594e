"""Built-in datasets that ship with the package (no network needed)."""
