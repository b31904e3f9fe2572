"""The real OpenID provider the single sign-on tests sign in at (see fixture.py)."""
