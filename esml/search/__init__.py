"""Global structure search: basin hopping and learned move policies, for any ASE calculator (``esml search``)."""
