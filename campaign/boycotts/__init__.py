"""Boycotts: pledges to stop buying from a brand until it meets the demands (``kind.py`` says
what a boycott is; ``views.py`` is its blueprint)."""
