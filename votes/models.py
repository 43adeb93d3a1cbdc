"""Tables of the votes domain."""
