"""The application service's commands and reads, one module per aggregate.

`domain.application.OkrLedger` composes them; `base.LedgerBase` holds what they share
(load, the expected-version check, one `_on` for "load → call → commit", `_commit`), and
`command.py` makes the commands that change one aggregate from its own methods.
"""
