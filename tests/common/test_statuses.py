from common.statuses import PENDING, TERMINAL, TRANSITIONS, Status, can_move


def test_terminal_statuses_never_change():
    for source in TERMINAL:
        for target in Status:
            assert not can_move(source, target), f"{source} -> {target}"


def test_only_pending_notifications_can_be_claimed_or_cancelled():
    assert TRANSITIONS[Status.SENDING] == PENDING
    assert TRANSITIONS[Status.CANCELLED] == PENDING


def test_sent_moves_only_forward_to_a_receipt():
    assert {t for t in Status if can_move(Status.SENT, t)} == {Status.DELIVERED, Status.FAILED}


def test_every_status_but_suppressed_is_reachable_by_a_transition():
    # Suppressed is decided when the notification is created, never later.
    assert set(TRANSITIONS) == set(Status) - {Status.SUPPRESSED}


def test_a_claim_may_only_go_back_to_scheduled_by_deferral():
    assert TRANSITIONS[Status.SCHEDULED] == {Status.SENDING}
