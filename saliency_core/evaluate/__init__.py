"""The dataset engine: :func:`engine.run` evaluates a dataset into a results folder
(:mod:`store`), :mod:`summary` makes the study's tables, :mod:`ray_engine` scales out.
The command is ``saliency evaluate`` (:mod:`saliency_core.commands.evaluate`)."""
