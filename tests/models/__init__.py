"""Tests of the torch models package."""
