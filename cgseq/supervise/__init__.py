"""Backend-agnostic supervision: spawn a held job, release it, watch it, end it."""
