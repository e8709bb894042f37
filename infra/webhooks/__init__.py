"""Outbound webhooks: the log, followed exactly once into delivery rows, posted at least once.

- `guard`: no private, loopback or link-local target, at registration and at connect time.
- `store`: the plain tables (secrets, follower progress, deliveries); machinery, not decisions.
- `delivery`: the follower (log → delivery rows, in the transaction of its progress) and the
  sender (signed CloudEvents envelopes, backoff, Retry-After, 410), and the service that runs
  both inside `okr serve` or `okr webhooks`.
"""
