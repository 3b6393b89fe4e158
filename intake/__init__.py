"""The domain core: dossiers, applicants, vessels, procedures, calendar and lifecycle.

Knows nothing of Flask, Twilio or Asterisk; the web, telephony and SMS packages are adapters
around it.
"""
