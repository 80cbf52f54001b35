"""Rules of the product, free of HTTP and SQL."""
