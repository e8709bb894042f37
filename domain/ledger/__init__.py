"""The application service's commands and reads, one module per aggregate.

`domain.application.OkrLedger` composes them; `base.LedgerBase` holds what they share
(load, the expected-version check, one `_change` for "load → call → commit", `_commit`).
"""
