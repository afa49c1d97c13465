"""Infrastructure-layer rules (one module per rule)."""
