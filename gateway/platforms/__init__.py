"""The networks the gateway publishes to: one module each, behind one contract."""
