"""Service settings: a calling service's own defaults, versioned, as PUT /v1/service/settings takes them."""
