"""The parts of the test Casdoor server (tests/support/casdoor_server.py, where it is described):
what they share (`common`), its OpenID Connect side (`oidc`) and its REST API (`rest`)."""
