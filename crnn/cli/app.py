"""`crnn` command line: the parser of every subcommand, and the entry point that turns errors into exit codes.

Parses arguments and calls the library; each subcommand lives with its kind (`crnn.cli.read`, `crnn.cli.train`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from crnn import __version__
from crnn.cli.configs import add_parsers as add_config_parsers
from crnn.cli.read import add_parsers as add_read_parsers
from crnn.cli.train import add_parsers as add_train_parsers


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crnn", description="Read the digits under EAN/UPC barcodes with a CRNN.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    add_train_parsers(sub)
    add_read_parsers(sub)
    add_config_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        rc = int(args.func(args))
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return rc
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # Whoever read the output has gone (`crnn read ... | head -1`): stop quietly, as a shell tool does; stdout
        # goes to /dev/null so the flush at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what the shell reports for a tool ended by a closed pipe
