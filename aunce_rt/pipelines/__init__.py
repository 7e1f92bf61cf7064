"""Pipelines above training and export: train -> export -> choose -> evaluate."""
