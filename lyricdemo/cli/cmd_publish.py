"""``publish``: the app as a Hugging Face Space (``--dry-run`` lists the files)."""

from __future__ import annotations

from ..errors import LyricdemoError


def add_parser(sub) -> None:
    p = sub.add_parser("publish", help="publish the app as a Hugging Face Space (--dry-run lists the files)")
    p.add_argument("--space", default=None, help="USER/NAME of the Space (created if it does not exist)")
    p.add_argument("--dry-run", action="store_true", help="list what would be uploaded; no network")
    p.add_argument("--private", action="store_true", help="create the Space private")
    p.set_defaults(func=cmd_publish)


def cmd_publish(args) -> int:
    from ..publish import describe, publish, space_files

    if args.dry_run:
        print(describe(space_files()))
        print(f"dry run: nothing uploaded{f' to {args.space}' if args.space else ''}")
        return 0
    if not args.space:
        raise LyricdemoError("Say where: --space USER/NAME (log in first: `hf auth login`, or set HF_TOKEN).")
    print(f"published: {publish(args.space, private=args.private)}")
    return 0
