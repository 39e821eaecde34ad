"""Data protection: the audit log page, the DPO page and register extracts (admin)."""
