"""The staff web page: Flask blueprints, templates, log-in and roles."""
