"""The REST API's pure half: resources declared as data, their JSON Schemas,
representations and OpenAPI document. The WSGI app in ``cluster_proxy.rest_api``
does the I/O; the CLI reads the same declarations."""
