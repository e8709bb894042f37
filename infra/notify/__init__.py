"""The notifier: follows the log, writes notices to an outbox with its progress, and delivers
them on each person's channels (docs/notifications.md)."""
