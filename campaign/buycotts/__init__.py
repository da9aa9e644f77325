"""Buycotts: pledges to buy from brands that do right (``kind.py`` says what a buycott is;
``views.py`` is its blueprint)."""
