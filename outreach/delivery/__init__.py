"""Delivery: due occurrences claimed in the ledger, composed, handed to a transport, recorded."""
