"""Leadflow's common plumbing: event envelope and schemas, Kafka, database, outbox,
consumer, settings, auth, problems and observability.

No business rules live here: a rule about leads, accounts or credit belongs in a
service's ``domain`` package.
"""
