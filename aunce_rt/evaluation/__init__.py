"""Evaluation: metrics, training reports and runtime evaluation (torch-free)."""
