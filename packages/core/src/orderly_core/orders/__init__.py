"""Orders: placement with stock reservation, and the order lifecycle."""
