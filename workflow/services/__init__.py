"""Services: one function per action, each run inside the caller's transaction.

Every service takes the ``session`` (the caller owns its transaction), the acting
``Actor`` and ``now``; it checks role and scope, changes state through the workflow's
machine, appends the audit event and writes the outbox rows the action owes.
"""
