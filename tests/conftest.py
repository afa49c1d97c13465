"""Shared pytest configuration for the whole suite."""

pytest_plugins = ["tests.fakeapi.fixtures"]
