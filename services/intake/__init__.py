"""intake: the only door from outside. Authenticates schools, validates, makes reports durable."""
