"""Retention (GDPR storage limitation): personal data is deleted when its period is over."""
