"""Secrets the tests configure JetDeck with."""

ADMIN_TOKEN = "jdsvc_test-admin-token-0123456789abcdefghijklmnop"
"""The bootstrap admin token of every test app; `client` calls with it."""
