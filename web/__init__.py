"""The portal: server-rendered pages per role and a JSON API over the workflow services."""
