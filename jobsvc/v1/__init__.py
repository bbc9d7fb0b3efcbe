"""Generated from proto/jobsvc/v1 by scripts/generate; do not edit."""
