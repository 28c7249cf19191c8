"""Vibrational spectroscopy from any surface: infrared spectra and anharmonic fundamentals."""
