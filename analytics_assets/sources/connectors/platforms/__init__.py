"""One client per platform API, written against its documented requests and responses."""
