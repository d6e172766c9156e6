"""Recipients: a calling service's stored addresses, timezone, quiet hours and opt-outs."""
