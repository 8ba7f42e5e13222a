"""Import and export: one module per format behind the interface in `base`, chosen by `registry`."""
