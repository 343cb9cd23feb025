"""``python -m andon`` runs the CLI."""

from __future__ import annotations

from andon.cli import main

main()
