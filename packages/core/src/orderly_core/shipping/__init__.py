"""Shipping: the rates a shop charges to deliver its orders."""
