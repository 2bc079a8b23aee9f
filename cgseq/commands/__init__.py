"""One module per subcommand: plain functions with explicit arguments that return an exit code.

``cgseq.main`` turns the parsed command line into those arguments and imports a command's
module only when it runs.
"""
