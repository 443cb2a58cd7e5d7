"""People and access: users and units, passwords, login throttling, API tokens, who may see what, administration."""
