"""Evidence bundles: one PDF and a manifest of hashes per period, bound into the audit log."""
