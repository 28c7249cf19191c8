"""Active learning: calibrated uncertainty and the choice of which frames to label next.

The learning loop itself (`esml learn`, issue #6) builds on these pieces.
"""
