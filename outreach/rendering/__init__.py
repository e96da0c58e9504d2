"""Rendering: templates compiled once, each supporter's email and post, and the template checks."""
