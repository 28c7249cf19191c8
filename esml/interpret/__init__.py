"""Interpretable models: symbolic regression (SISSO, genetic programming) and attribution."""
