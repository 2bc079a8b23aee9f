"""One module per subcommand: plain functions that take parsed arguments, return an exit code."""
