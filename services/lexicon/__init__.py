"""Data package: the classifier's shipped lexicon (``lexicon.toml``); no code lives here."""
