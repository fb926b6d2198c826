"""Flask-WTF forms. Services still validate: forms only shape input."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, ValidationError


def local_account_email(form, field):
    """The same check as `flask users create-admin`: any syntactically valid address, home domains included."""
    from medianest.services import ServiceError
    from medianest.services.users import normalize_email

    try:
        normalize_email(field.data)
    except ServiceError:
        raise ValidationError("Enter a valid email address.") from None


class SetupForm(FlaskForm):
    name = StringField("Your name", validators=[Optional(), Length(max=100)])
    email = EmailField("Email", validators=[DataRequired(), local_account_email, Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=10, max=256, message="Use 10 to 256 characters.")])
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", message="The passwords differ.")])


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    remember = BooleanField("Keep me signed in on this device")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[Optional(), Length(max=256)])
    new_password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=256, message="Use 10 to 256 characters.")])
    confirm_password = PasswordField("Repeat new password", validators=[DataRequired()])


class BroadcastForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    message = TextAreaField("Message", validators=[DataRequired(), Length(max=5000)])
    type = SelectField("Kind", choices=[("info", "Information"), ("success", "Good news"), ("warning", "Warning"),
                                        ("error", "Problem")], default="info")


# -- sign-in, sessions and user management ------------------------------------------------------
from wtforms.fields.choices import SelectChoice  # noqa: E402  (WTForms 3.3: choices as tuples are deprecated)


class PlexSignInForm(FlaskForm):
    """The "Sign in with Plex" button (prefix "plex" keeps its ids apart from the password form's)."""

    remember = BooleanField("Keep me signed in on this device")


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=256, message="Use 10 to 256 characters.")])
    confirm_password = PasswordField("Repeat new password", validators=[DataRequired()])


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice("USER", "User"), SelectChoice("ADMIN", "Admin")])
