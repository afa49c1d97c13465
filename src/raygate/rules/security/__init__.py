"""Security-layer rules (one module per rule)."""
