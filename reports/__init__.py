"""Reports on the dossiers, calls and notices, for the staff pages and the CLI."""
