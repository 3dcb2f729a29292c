"""Ops: keeps every event in one log and serves it back — the live stream, a lead's
timeline across services, the dashboard and the funnel report."""
