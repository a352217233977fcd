"""Contracts with renewal reminders, and the licences sold under them."""
