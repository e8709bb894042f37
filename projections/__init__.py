"""The read side: pure folds over the notification log, `state = apply(state, logged)`.

- `base`: `Logged` (position, recorded time, event), the `Fold` protocol, `fold()`.
- `directory`: people, teams, cycles; the only fold with names and e-mails.
- `tree`: the alignment tree per cycle, and `tree()` / `objective_view()` to read it.
- `history`: check-in series and objective timelines. `audit`: one row per event.
- `comparison`, `inbox`, `staleness`: cycle comparison, approval inbox, stale key results.
- `diff`: changes between two tree states. `replay`: the tree frame by frame.
- `folds.FOLDS`: every fold by name.
- `catalogue.CATALOGUE`: every event with its aggregate, type, personal fields and narration
  (declared beside the phrasers in `narrative` and `strategy_narrative`); `catalogue.narrate`.
- `coverage`: what the tests hold each fold to (it handles or ignores every catalogued event;
  its fingerprint matches the one recorded for its version).

A fold's "now" is the recorded time of the latest event it applied; no fold reads a clock.
"""
