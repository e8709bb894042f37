"""Data sources: fetching a key result's value (`fetch`), the sources' health (`health`), and
syncing them on demand and on their schedule (`sync`). See docs/data-sources.md."""
