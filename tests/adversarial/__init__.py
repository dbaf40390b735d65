"""Adversarial tests: one module per security promise, each naming its attacker."""
