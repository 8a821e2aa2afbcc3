from __future__ import annotations

import threading

from monitor.ingest import gate


def test_large_bodies_take_turns_and_small_ones_never_wait() -> None:
    inside, most = [0], [0]
    changed = threading.Condition()
    go_on = threading.Event()

    def parse_large() -> None:
        with gate.parsing(gate.LARGE):
            with changed:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                changed.notify_all()
            go_on.wait()
            with changed:
                inside[0] -= 1

    threads = [threading.Thread(target=parse_large) for _ in range(5)]
    for thread in threads:
        thread.start()
    with changed:
        assert changed.wait_for(lambda: inside[0] == gate.LARGE_AT_ONCE, timeout=30)
    assert not gate._slots.acquire(blocking=False)  # every slot is taken: the other three wait
    with gate.parsing(gate.LARGE - 1):  # a smaller body goes ahead all the same
        pass
    go_on.set()
    for thread in threads:
        thread.join(timeout=30)
    assert most[0] == gate.LARGE_AT_ONCE
    assert not any(thread.is_alive() for thread in threads)
    for _ in range(gate.LARGE_AT_ONCE):  # and every slot is free again
        assert gate._slots.acquire(blocking=False)
    for _ in range(gate.LARGE_AT_ONCE):
        gate._slots.release()
