"""Test helpers shipped with the package: loopback SMTP/webhook peers, a fake clock, tiny real models,
a live server on 127.0.0.1. Used by recsys's own tests and usable by anyone testing a deployment."""
