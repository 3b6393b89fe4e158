"""The Asterisk front end: FastAGI (the flow) and AMI (call events, originate)."""
