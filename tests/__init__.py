"""Tests import the core as the functions do, with the service name the template sets."""

import os

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bulksms")
