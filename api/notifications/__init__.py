"""Notifications: send one, preview its timing, follow it, list, cancel, send now."""
