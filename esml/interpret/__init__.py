"""Interpretable models of tables: formulas by SISSO and by genetic programming, and which features a model leans on."""
