"""escalation: applies the severity rules and decides who must be told."""
