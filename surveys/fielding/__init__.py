"""Fielding a survey: targeting and sampling the panel, invitations, reminders, progress."""
