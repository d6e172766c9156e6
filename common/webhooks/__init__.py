"""Status callbacks to calling services: endpoints, signed messages, their delivery and log."""
