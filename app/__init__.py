"""viewing-time-service: daily viewing-time limits for child profiles."""
