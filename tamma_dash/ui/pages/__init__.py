"""Dash pages; each module registers itself when create_app imports it."""
