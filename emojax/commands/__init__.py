"""The front door's subcommands, one module each: its flags (argparse), the calls into the
library and what it prints. ``emojax.cli`` dispatches to them; ``python -m emojax.live``
(and predict, serve, evaluate, data) reaches the same ``main``. The library modules below
hold no argparse and print nothing.
"""
