"""Schema versions of the review store, oldest first."""
