"""Rating: pricing a billing cycle's usage against the catalogue (docs/rating-rules.md)."""
