"""One module per ``voicecmd`` sub-command; each exposes ``add_arguments(parser)`` and ``run(args) -> int``."""
