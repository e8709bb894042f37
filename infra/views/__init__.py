"""The read side in PostgreSQL: live views, rebuilds, time travel (see docs/projections.md)."""
