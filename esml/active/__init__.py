"""Active learning (``esml learn``): a potential that chooses its own oracle calls.

``config`` holds a run's settings, ``loop`` the rounds (:func:`esml.active.loop.learn` runs one),
``walkers`` the MD that explores with the model, ``descriptors`` what farthest-point sampling
compares, ``run_files`` the resumable run folder and ``report`` its report.
"""
