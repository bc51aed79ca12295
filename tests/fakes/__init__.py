"""Local fakes of outside services for tests: loopback only, started and stopped by fixtures."""
