"""Shared plumbing: settings, database, the web app factory and the `tongdai` command."""
