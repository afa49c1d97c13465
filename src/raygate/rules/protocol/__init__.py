"""Protocol-layer rules (one module per rule)."""
