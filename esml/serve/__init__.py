"""OPTIMADE: serving the store to any OPTIMADE client (``esml serve``), and querying any
OPTIMADE provider the same way (``esml query --provider``)."""
