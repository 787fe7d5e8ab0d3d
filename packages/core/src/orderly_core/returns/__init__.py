"""Returns: customers send delivered units back within the return window, staff approve or
reject the request, then receive what came back (restocked or written off) and refund it."""
