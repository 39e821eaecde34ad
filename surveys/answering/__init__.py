"""Answering a survey: the personal link's landing page, pages of questions, one response."""
