"""Herald's shared core: configuration, models, statuses, scheduling and dispatch."""
