"""The call flow (one definition) and its front ends: Twilio, Asterisk FastAGI/AMI, console."""
