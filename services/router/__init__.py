"""Router: owns accounts, owners and routing rules; decides who owns each lead and why."""
