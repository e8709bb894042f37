"""Which position an answer states when a request reads more than once (infra/answer.py)."""

from __future__ import annotations

import contextvars
import threading

from infra import answer


def test_the_first_plain_read_decides_and_a_pinned_read_overrides_it() -> None:
    with answer.answering() as found:
        answer.saw(7, b"a" * 32)
        answer.saw(9)  # a later read (a privacy filter, say) does not move the answer
        assert (found.position, found.hash) == (7, b"a" * 32)
        answer.pin(5)  # the answer itself was folded to 5
        assert (found.position, found.hash, found.pinned) == (5, None, True)
        answer.saw(11)
        assert found.position == 5
        answer.pin(5, b"b" * 32)
        assert found.hash == b"b" * 32
        answer.read_again()
        answer.saw(12)
        assert (found.position, found.pinned) == (12, False)


def test_reads_in_a_worker_thread_count_and_nothing_is_recorded_outside_a_request() -> None:
    answer.saw(3)  # no request: ignored
    assert answer.current() is None
    with answer.answering() as found:
        context = contextvars.copy_context()  # what the thread pool hands a route
        worker = threading.Thread(target=context.run, args=(answer.saw, 4))
        worker.start()
        worker.join()
        assert found.position == 4
    assert answer.current() is None
