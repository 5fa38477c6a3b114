"""Test support shared by several modules: crash injection (`chaos`)."""
