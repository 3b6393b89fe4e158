"""The composition roots: the web app factory, the `tongdai` command, the servers, /healthz and
start-up. Everything else sits below (README "How the pieces fit"); nothing imports this."""
