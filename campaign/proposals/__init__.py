"""Co-creation proposals: ideas customers put to a brand and endorse together (``kind.py``
says what a proposal is; ``views.py`` is its blueprint)."""
