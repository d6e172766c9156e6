"""What Herald serves to browsers: the inbox's JavaScript client and the inbox demo page."""
