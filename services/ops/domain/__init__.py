"""Ops' pure core: what to pull out of an event, one-line summaries, a lead's timeline,
the funnel and the dashboard's shapes, the stream's filters. No I/O."""
