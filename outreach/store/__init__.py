"""The one store (SQLAlchemy Core): supporters, suppressions, ledger and queue."""
