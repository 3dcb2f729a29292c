"""Intake: the single point of entry. Validates, normalizes and registers every lead and
publishes it (``lead.received``) through the outbox."""
