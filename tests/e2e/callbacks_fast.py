"""Second-scale callback settings shared by e2e tests."""

FAST = dict(callback_slots="", callback_delay="1s", callback_answer_timeout="2s", scheduler_tick="0.3s",
            close_no_callback_after="2s", close_unreachable_after="2s")
