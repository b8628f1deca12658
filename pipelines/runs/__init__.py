"""A run's identity (setting), its folder layout, its record and its files."""
