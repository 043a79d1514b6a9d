"""The command line: wiring and the terminal view. Nothing imports this package."""
