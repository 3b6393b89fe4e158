"""Notice rules, the outbox dispatcher and the scheduler process."""
