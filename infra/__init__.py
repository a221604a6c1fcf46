"""Everything that touches NATS."""
