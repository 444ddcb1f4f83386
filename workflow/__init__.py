"""The domain: states, machines, calendar rules, models, services, the sweep and the CLI."""
