"""The artifacts a release publishes, built and installed outside the checkout."""
