"""API keys: the `flask --app api keys` commands and how keys are made and stored."""
