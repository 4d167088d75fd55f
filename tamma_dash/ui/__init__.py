"""Dash pages, components and figure builders (DataFrame -> figure, no I/O)."""
