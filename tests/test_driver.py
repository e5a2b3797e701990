"""The driver policy's release rules (sim/driver.py), shared by greenwave's simulator and the
SUMO controller."""

import numpy as np

from greenwave.sim.driver import (
    FOLLOW_GAP_FACTOR,
    QUEUE_SPEED_MS,
    follows_leader,
    release_queued,
)


def test_a_queued_driver_is_released_until_it_crosses_that_stop_line():
    queued_until = np.array([-1, -1, -1])
    stop_k = np.array([2, 2, 0])
    speed = np.array([0.5, 5.0, 0.2])
    on_approach = np.array([True, True, False])
    # Slow on a signal's approach: released until stop line 2 is crossed (stop_k becomes 3).
    assert release_queued(queued_until, stop_k, speed, on_approach) == 1
    assert queued_until.tolist() == [3, -1, -1]
    # Moving off again does not end the release ...
    speed[0] = 8.0
    assert release_queued(queued_until, stop_k, speed, on_approach) == 0
    assert queued_until[0] == 3
    # ... crossing the line does.
    stop_k[0] = 3
    release_queued(queued_until, stop_k, speed, on_approach)
    assert queued_until[0] == -1
    # Slow but not before a signal (vehicle 2): not released.
    assert queued_until[2] == -1 and speed[2] < QUEUE_SPEED_MS


def test_close_behind_a_slower_leader_the_driver_follows_it():
    v, s0, T, a, b = 10.0, 2.0, 1.0, 1.5, 2.0
    s_star = s0 + v * T  # no approach: leader as fast
    target = np.array([12.0, 12.0, 12.0, 9.0, np.nan])
    leader = np.array([10.0, 10.0, 10.0, 10.0, 10.0])
    gap = np.array(
        [FOLLOW_GAP_FACTOR * s_star - 0.1, FOLLOW_GAP_FACTOR * s_star + 0.1, np.inf, 1.0, 1.0]
    )
    got = follows_leader(target, np.full(5, v), leader, gap, s0, T, a, b)
    # Close and slower than the target: follows; far, no leader, leader faster than the target,
    # no target: steers.
    assert got.tolist() == [True, False, False, False, False]
