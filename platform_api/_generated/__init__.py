"""Generated from platform_api/proto by scripts/gen-proto. Do not edit."""
