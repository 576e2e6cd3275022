"""The REST API cluster service (entry point ``rest_api``): MidoNet's API on WSGI."""
