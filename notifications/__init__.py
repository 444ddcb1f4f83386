"""Email: templates, rendering, the transactional outbox, senders and the dispatcher."""
