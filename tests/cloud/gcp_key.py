#!/usr/bin/env python3
"""Writes a GCP service-account key file for the tests: the test RSA key
(tests/auth/test_rsa_key.pem, whose JWTs tests/cloud/fake_cloud.py verifies) with the fake's
token endpoint. Usage: gcp_key.py SERVER_URL OUT [CLIENT_EMAIL]"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
pem = open(os.path.join(here, "..", "auth", "test_rsa_key.pem")).read()
email = sys.argv[3] if len(sys.argv) > 3 else "deployer@test-project.iam.gserviceaccount.com"
key = {"type": "service_account", "project_id": "test-project", "private_key_id": "kid-1", "private_key": pem,
       "client_email": email, "token_uri": sys.argv[1] + "/google/token"}
with open(sys.argv[2], "w") as f:
    json.dump(key, f)
