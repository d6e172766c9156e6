"""The end users' inbox: their in-app items, read state, counts and the token that opens it."""
