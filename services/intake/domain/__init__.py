"""Intake's pure core: normalization of what callers send. No I/O."""
