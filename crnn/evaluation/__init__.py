"""Evaluation of crops and photos, and the images reports show."""
