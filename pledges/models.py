"""Tables of the pledges domain."""
