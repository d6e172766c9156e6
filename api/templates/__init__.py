"""The /v1/templates resource: versioned, localised message templates of a service."""
