"""Reminders: notifications timed before an event, kept as one group."""
