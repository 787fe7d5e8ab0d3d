"""Accounts: who can sign in, with which role, and their sessions."""
