"""The ``esml`` command line: one module per subcommand, heavy imports inside the commands."""
