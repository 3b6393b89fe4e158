"""The API for the systems that process the dossiers: status changes in, dossiers out.

Signed requests (api/signing.py) from API clients an admin creates (api/clients.py); the views
(api/views.py) validate with the models in api/schemas.py, which also generate the OpenAPI
document (api/openapi.py); every change goes through intake's lifecycle (api/events.py)."""
