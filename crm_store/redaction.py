"""Redaction of passwords and verification codes that staff type into free-text notes."""

from __future__ import annotations

import re

from crm_store.masking import mask_text

REDACTED = "******"

# What a secret looks like once its label is found: printable ASCII without spaces, so a
# sentence going on in Chinese ("密码重置了") is left alone; a final "." or "?" is the
# sentence's. `*` is allowed so that redacting twice changes nothing.
_SECRET = r"[A-Za-z0-9!@#$%^&*()_+\-=.~?/]{0,63}[A-Za-z0-9!@#$%^&*_+\-=~/]"
_ZH_LABEL = r"(?:动态口令|口令|密码|验证码|校验码|动态码|短信码|PIN码)"
_EN_LABEL = (
    r"(?:password|passwd|pwd|passcode|pin(?:\s+code)?|otp|one[- ]time\s+(?:pass)?code"
    r"|verification\s+code|security\s+code|auth(?:entication)?\s+code|sms\s+code)"
)
# Label, then an explicit separator ("是", "为", ":", "=", "is") or only spaces, then the secret.
_ZH = re.compile(
    rf"(?P<label>{_ZH_LABEL})(?P<sep>\s*(?:是|为|:|：|=)\s*|\s*)(?P<secret>{_SECRET})",
    re.IGNORECASE,
)
_EN = re.compile(
    rf"(?<![A-Za-z])(?P<label>{_EN_LABEL})"
    rf"(?P<sep>\s*[:：=]\s*|\s+is\s+|\s+was\s+|\s*是\s*|\s+)(?P<secret>{_SECRET})",
    re.IGNORECASE,
)


def _replace(match: re.Match[str]) -> str:
    sep, secret = match.group("sep"), match.group("secret")
    # With no explicit separator only a secret of 3+ characters with a digit counts
    # ("验证码 8421", "pin 1234"), not an ordinary next word ("password reset").
    if not sep.strip() and (len(secret) < 3 or not any(ch.isdigit() for ch in secret)):
        return match.group(0)
    return f"{match.group('label')}{sep}{REDACTED}"


def redact_secrets(text: str) -> str:
    """Replace passwords and verification codes ("密码是123456", "password: x") by ******."""
    return _EN.sub(_replace, _ZH.sub(_replace, text))


def clean_text(text: str) -> str:
    """Text as it may be kept or shown anywhere: personal numbers masked, secrets redacted.

    The one redaction for everything a person types: the dispatcher applies it to every
    message at the entrance, before it is echoed, audited, embedded, logged or sent to an
    LLM, and the notes table stores the same, so no copy ever holds more than the note.
    """
    return redact_secrets(mask_text(text))
