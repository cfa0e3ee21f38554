"""`python -m instruments list | show ID[@VERSION] | validate [PATH...] | lock`.

argparse rather than click: the core install (statistics stack only) has no click.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from instruments.commands import CommandResult, list_command, lock_command, show_command, validate_command
from instruments.registry import DATA_DIR, LOCK_PATH


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m instruments", description="Hài Lòng questionnaires.")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR, help="instrument files (default: shipped)")
    parser.add_argument("--lock", type=Path, default=LOCK_PATH, help="published lock file")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the instruments")
    show = commands.add_parser("show", help="describe one instrument")
    show.add_argument("spec", metavar="ID[@VERSION]")
    show.add_argument("--json", action="store_true", help="print the canonical JSON that is hashed")
    show.add_argument("--lang", choices=("vi", "en"), default="vi")
    validate = commands.add_parser("validate", help="validate files (default: shipped files and the lock)")
    validate.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    commands.add_parser("lock", help="add newly published versions to the lock")
    return parser


def run(argv: Sequence[str] | None = None) -> CommandResult:
    """Parse `argv` and run the command."""
    args = _parser().parse_args(argv)
    if args.command == "list":
        return list_command(args.data_dir)
    if args.command == "show":
        return show_command(args.spec, args.data_dir, as_json=args.json, lang=args.lang)
    if args.command == "validate":
        return validate_command(args.paths, args.data_dir, args.lock)
    return lock_command(args.data_dir, args.lock)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the command's lines (errors on stderr) and return the exit status."""
    result = run(argv)
    stream = sys.stdout if result.ok else sys.stderr
    for line in result.lines:
        print(line, file=stream)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
