"""Petitions: signatures delivered to a brand with one demand (``kind.py`` says what a petition
is; ``views.py`` is its blueprint)."""
