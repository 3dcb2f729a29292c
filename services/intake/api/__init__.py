"""Intake's HTTP routers (thin: parse, authorize, call one use case, map errors)."""
