"""The demo organisation: three quarters of OKR history loaded through the application's commands.

"Acme" has a company team, four teams under it, two sub-teams and about twenty people. The two
quarters before the one containing ``today`` are planned, negotiated, tracked week by week,
graded and closed; the current quarter is active. Everything goes through ``OkrLedger`` commands
with a simulated clock, so the history looks like a real one: negotiations in the planning weeks
before each quarter, check-ins every Friday (some late, some wrong and corrected), amendments that
move targets, carry-overs that keep key-result lineage across quarters, grades and reflections.

The story runs from an agenda: each scheduled action is a callable due at a simulated instant,
executed in time order, and may schedule follow-ups (a correction the Monday after a typo, an
approval two days after a submission). The clock only moves forward, and every value comes from
a ``random.Random(seed)``, so the same seed issues the same commands with the same values.

The data (`demo.data`, `demo.objectives`) is apart from the story that plays it (`demo.stage`,
`demo.story`, `demo.tracking`, `demo.strategy`). The package imports only `domain`: the caller
passes the store's history clock (`infra.chain.importing_history`) to `load_demo`.
"""

from demo.story import HistoryClock, HistoryWriter, load_demo
from demo.summary import ADMIN_EMAIL, DEFAULT_TODAY, DemoSummary, PlantedWeakOkr

__all__ = [
    "ADMIN_EMAIL",
    "DEFAULT_TODAY",
    "DemoSummary",
    "HistoryClock",
    "HistoryWriter",
    "PlantedWeakOkr",
    "load_demo",
]
