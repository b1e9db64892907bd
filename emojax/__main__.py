"""``python -m emojax SUBCOMMAND``: the same front door as the ``emojax`` command."""
from emojax.cli import cli

cli()
