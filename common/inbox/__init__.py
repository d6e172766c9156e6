"""The in-app inbox: its rows, their sequence numbers and read state, tokens, and the events for the streams."""
