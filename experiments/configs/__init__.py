"""One module per experiment, each defining ``CONFIG`` (an ``emojax.train.Config``)."""
