"""Unit tests of the cluster's MidoNet-compatible REST API."""
