"""Credit's pure core: contract terms as data and the policy that decides. No I/O."""
