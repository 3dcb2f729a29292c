"""Intake's HTTP edges below the routes: Idempotency-Key replay, body limits per path."""
