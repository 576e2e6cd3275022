"""The State API (MidoNet 5.x wire format) and the State Proxy client."""
