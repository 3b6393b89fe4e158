"""SMS gateways: one small interface, a console twin for laptops, Twilio for production."""
