"""Leads: capture, qualification, round-robin assignment and one-step conversion."""
