"""The ground floor: settings, database, logs, queues, Twilio plumbing. Imports nothing of ours."""
