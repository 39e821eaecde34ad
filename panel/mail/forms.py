from flask_wtf import FlaskForm


class RetryForm(FlaskForm):
    """Retry one failed email, or all of them: no fields, only the CSRF token."""
