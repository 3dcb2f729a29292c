"""Router's pure core: matching a lead to an account and applying ownership rules.
No I/O: every function here is a function of its arguments."""
