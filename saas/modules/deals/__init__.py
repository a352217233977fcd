"""Deals on pipelines of ordered stages, with stage history and a kanban board."""
