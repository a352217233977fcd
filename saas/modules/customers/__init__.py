"""Accounts (customer companies) and their contacts."""
