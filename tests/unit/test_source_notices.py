"""The notices a data source's health causes: ids that name one failure, one notice per
recipient, and the sentences they render to (pure: no database)."""

from __future__ import annotations

from uuid import UUID, uuid4

from infra.notify.render import Recipient, sentence
from projections.notices import Notice, source_notice_id, source_notices

SOURCE = uuid4()
KPI = uuid4()
ALICE, BOB = uuid4(), uuid4()
SINCE = "2026-03-02T09:15:00+00:00"


class Directory:
    def person(self, person_id: UUID) -> Recipient | None:
        return None

    def objective_title(self, objective_id: UUID) -> str | None:
        return "Delight new customers"


def failing(since: str = SINCE, kind: str = "source_failing") -> list[Notice]:
    return source_notices(
        kind,
        [ALICE, BOB, ALICE],
        source_id=SOURCE,
        failing_since=since,
        position=7,
        objective_id=None,
        link=f"/kpis/{KPI}",
        data={"rule": "source_http_status", "error": "HTTP 500", "what": "KPI “NPS”", "x": ""},
    )


def test_one_notice_per_recipient_with_an_id_that_names_the_failure() -> None:
    notices = failing()
    assert [n.recipient_id for n in notices] == [ALICE, BOB]
    assert [n.id for n in notices] == [n.id for n in failing()], "the same failure, the same ids"
    assert notices[0].id == source_notice_id("source_failing", ALICE, SOURCE, SINCE)
    later = failing("2026-03-09T10:00:00+00:00")
    assert not {n.id for n in notices} & {n.id for n in later}, "a later failure is told again"
    recovered = failing(kind="source_recovered")
    assert not {n.id for n in notices} & {n.id for n in recovered}
    assert notices[0].data == {
        "source_id": str(SOURCE),
        "failing_since": SINCE,
        "rule": "source_http_status",
        "error": "HTTP 500",
        "what": "KPI “NPS”",
    }
    assert (notices[0].actor, notices[0].position, notices[0].link) == ("system", 7, f"/kpis/{KPI}")


def test_the_sentences_name_what_follows_the_source_and_the_error() -> None:
    [notice, _] = failing()
    subject, detail = sentence(notice, Directory())
    assert subject == "The data source of KPI “NPS” is failing"
    assert detail.startswith("HTTP 500 (source_http_status).")
    [back, _] = failing(kind="source_recovered")
    assert sentence(back, Directory())[0] == "The data source of KPI “NPS” works again"
