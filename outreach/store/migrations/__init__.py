"""Schema migrations (Alembic), run by `outreach db upgrade`; see `store/versions.py`."""
