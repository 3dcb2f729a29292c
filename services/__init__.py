"""The three Leadflow services (intake, router, credit) and the ``leadflow`` command."""
