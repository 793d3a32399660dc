"""Checks of the deployment files (docker/, .dockerignore) that need no Docker and no cluster."""
