"""Sub-commands of `nas`; each module defines `add_parser(subparsers)` and its run function."""
