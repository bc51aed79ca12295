"""The four services. None imports another; they share only `shared`."""
