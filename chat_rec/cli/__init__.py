"""The `chat-rec` command line: one module per command group (``main`` builds the parser)."""

from chat_rec.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
