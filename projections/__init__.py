"""The read side: pure folds over the notification log, `state = apply(state, logged)`.

- `base`: `Logged` (position, recorded time, event), the `Fold` protocol, `fold()`.
- `directory`: people, teams, cycles; the only fold with names and e-mails.
- `tree`: the alignment tree per cycle, and `tree()` / `objective_view()` to read it.
- `history`: check-in series and objective timelines. `audit`: one row per event.
- `comparison`, `inbox`, `staleness`: cycle comparison, approval inbox, stale key results.
- `diff`: changes between two tree states. `replay`: the tree frame by frame.
- `folds.FOLDS`: every fold by name.

A fold's "now" is the recorded time of the latest event it applied; no fold reads a clock.
"""
