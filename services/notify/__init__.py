"""notify: turns notification requests into messages, exactly one per request."""
