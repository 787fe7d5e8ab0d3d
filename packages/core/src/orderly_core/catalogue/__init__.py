"""The product catalogue and its stock levels."""
