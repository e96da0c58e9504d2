"""Supporters as organizations hold them: CSV rows, consent, addresses, regions."""
