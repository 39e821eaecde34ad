"""Extensions, created unbound here and bound to the app in ``create_app``."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_mail import Mail
from flask_wtf import CSRFProtect

from panel.db import Database

db = Database()
csrf = CSRFProtect()
babel = Babel()
mail = Mail()
login_manager = LoginManager()
login_manager.login_view = "accounts.login"
login_manager.login_message_category = "info"
