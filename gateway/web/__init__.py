"""The web app: a factory and one blueprint per feature."""
