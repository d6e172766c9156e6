"""The /v1/webhooks resource: a service's callback endpoints and their message log."""
