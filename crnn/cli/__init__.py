"""The `crnn` command line (`crnn.cli.app.main`)."""

from crnn.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
