"""What happens to ideas and rounds, as blinker signals sent by ``votes.services`` once the change
is flushed (in the caller's transaction): receivers connected in ``create_app`` queue the
notifications (votes/notifications.py), which are then committed, or rolled back, with the change.
Sender: None. Every signal passes ``session`` (the change's) as a keyword."""

from blinker import Namespace

_signals = Namespace()

idea_reviewed = _signals.signal("idea-reviewed")
"""The team reviewed an idea. Keywords: ``session``, ``idea``, ``update`` (the IdeaUpdate row)."""

round_opened = _signals.signal("round-opened")
"""A new round was opened (not sent for a form sent again). Keywords: ``session``, ``rnd``."""

round_closed = _signals.signal("round-closed")
"""A round was closed and tallied. Keywords: ``session``, ``rnd``."""

delivery_updated = _signals.signal("delivery-updated")
"""A funded idea got a delivery update. Keywords: ``session``, ``idea``, ``update``."""

milestone_changed = _signals.signal("milestone-changed")
"""A funded idea's delivery moved: a step added or done, or the idea done (votes/delivery.py).
Keywords: ``session``, ``idea``, ``milestone`` (None when the idea is done) and ``event`` (the
notification event, e.g. "milestone:7:done", so each is told once per person)."""
