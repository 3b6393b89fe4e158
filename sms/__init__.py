"""SMS helpers: encoding detection, segment counting and Vietnamese diacritic stripping."""
