"""The hash chain: what it costs writers, and how fast a chain verifies.

Built on bench/audit_chain.py (the audit engineer's benchmark): its event maker and datastore,
its method of alternating plain and chained commits one by one so both see the same load.
Here it runs in rounds with figures per round, on the harness's server, and verification
runs over the generated history the rebuild uses (whose chain the product wrote).

- write overhead: eventsourcing's plain `PostgresApplicationRecorder` vs the
  `ChainedApplicationRecorder`, each on a database of its own, one-event commits and 100-event
  commits; ratio = chained / plain events/s (overhead = 1 − ratio; target ≤ 15%).
- verify: `verify_chain` over every link of the history, beside a raw scan of its events.
"""

from __future__ import annotations

import time

from bench.harness import Figure, Row, ScenarioResult, Target, alternate, paired
from bench.raw import raw_scan
from bench.scenarios import Context


def run(ctx: Context) -> ScenarioResult:
    from bench.audit_chain import STATE_SIZE, TABLE, commit_times, datastore, warmed_recorders
    from infra.chain import ChainReader, verify_chain

    result = ScenarioResult("audit", "hash chain: write overhead, verification")
    overhead = Target.ratio(0.85, "overhead ≤ 15% (≥ 0.85×)")
    plain_url = ctx.cluster.scratch("plain")
    chain_url = ctx.cluster.scratch("chain")
    plain_store, chain_store = datastore(plain_url), datastore(chain_url)
    try:
        plain, chained = warmed_recorders(plain_store, chain_store)
        for size, commits in ((1, int(ctx.pick(1500, 300))), (100, int(ctx.pick(150, 40)))):
            rates = {"plain": Figure("events/s"), "chained": Figure("events/s")}
            for _ in range(ctx.rounds):
                for name, times in commit_times(plain, chained, size, commits).items():
                    rates[name].add(size * commits / sum(times))
            label = "one-event commits" if size == 1 else f"{size}-event commits"
            result.rows.append(
                Row(
                    "audit",
                    f"chained writes, {label}",
                    rates["chained"],
                    rates["plain"],
                    "the same writes without the chain",
                    paired(rates["chained"], rates["plain"]),
                    (overhead,),
                )
            )
            ctx.say(
                f"{label}: chained {rates['chained'].median:,.0f} ev/s, "
                f"plain {rates['plain'].median:,.0f} ev/s"
            )
        report = verify_chain(ChainReader(chain_store, TABLE))
        assert report.ok, report
    finally:
        plain_store.close()
        chain_store.close()
        ctx.cluster.forget(plain_url)
        ctx.cluster.forget(chain_url)

    from bench.scenarios.readside import _ledger

    size = ctx.big
    url = ctx.datasets.generated(size)
    app = _ledger(url)
    verify, scan = Figure("events/s"), Figure("events/s")
    try:
        reader = ChainReader.for_recorder(app.recorder)

        def verify_round(_: int) -> None:
            began = time.perf_counter()
            found = verify_chain(reader)
            seconds = time.perf_counter() - began
            assert found.ok, found
            verify.add(found.count / seconds)

        def scan_round(_: int) -> None:
            events, seconds = raw_scan(url)
            scan.add(events / seconds)

        alternate(int(ctx.pick(3, ctx.rounds)), verify_round, scan_round)
    finally:
        app.close()
    result.rows.append(
        Row(
            "audit",
            f"verify_chain over {size:,} events",
            verify,
            scan,
            "raw scan of the events table",
            paired(verify, scan),
        )
    )
    result.notes.append(
        f"write overhead: {STATE_SIZE}-byte events, plain and chained commits alternating one by "
        f"one, {ctx.rounds} rounds; verification over the generated history of {size:,} events."
    )
    return result
