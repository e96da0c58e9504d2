"""Values a campaigner types, read from text: offsets, durations, clock times, dates,
handles, codes and addresses. Each returns the value or raises ValueError with a hint."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode

LANGUAGE = re.compile(r"[a-z]{2,3}")
REGION = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)*")
HASHTAG = re.compile(r"\w+")
OFFSET = re.compile(r"([+-]?)(\d{1,6})([dhm])")
DURATION = re.compile(r"(\d{1,6})([dhm])")
CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}

_DOMAIN = r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z](?:[a-z0-9-]*[a-z0-9])?"
HANDLES = {
    "x": (re.compile(r"@?([A-Za-z0-9_]{1,15})"), "1 to 15 letters, digits or _, like cafreeland"),
    "bluesky": (re.compile(rf"@?({_DOMAIN})", re.I), "a domain, like name.bsky.social"),
    "mastodon": (
        re.compile(rf"@?([a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?@{_DOMAIN})", re.I),
        "user@server, like amnesty@mastodon.social",
    ),
}

TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


def parse_language(value: str) -> str:
    """A lowercase 2 or 3 letter language code."""
    if not LANGUAGE.fullmatch(value):
        raise ValueError("use a 2 or 3 letter lowercase code, like en or fr")
    return value


def parse_region(value: str) -> str:
    """An uppercase region code, like ON."""
    if not REGION.fullmatch(value):
        raise ValueError("use an uppercase code, like ON or QC")
    return value


def parse_hashtag(value: str) -> str:
    """A hashtag without its leading `#`."""
    tag = value.removeprefix("#")
    if not HASHTAG.fullmatch(tag):
        raise ValueError("use letters, digits or _ only")
    return tag


def parse_handle(network: str, value: str) -> str:
    """A handle on `network` (x, bluesky, mastodon), without a leading `@`."""
    pattern, hint = HANDLES[network]
    match = pattern.fullmatch(value)
    if not match:
        raise ValueError(hint)
    return match.group(1)


def parse_email(value: str) -> str:
    """A syntactically valid email address, normalized."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from None


def parse_url(value: str) -> str:
    """An http(s) web address."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
        raise ValueError("use a full address starting with https://")
    return value


def parse_timezone(value: str) -> str:
    """An IANA time zone name known to zoneinfo."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("use a name like America/Toronto") from None
    return value


def parse_when(value: str) -> date | datetime:
    """A date, or a datetime with its UTC offset, in ISO 8601 or YAML timestamp form."""
    example = "use 2018-03-15 or 2018-03-15T10:00:00-05:00"
    try:
        if DAY.fullmatch(value):
            return date.fromisoformat(value)
        if SafeConstructor.timestamp_regexp.fullmatch(value):
            node = ScalarNode(TIMESTAMP_TAG, value)
            moment: date = SafeConstructor().construct_yaml_timestamp(node)
        else:
            moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(example) from None
    if isinstance(moment, datetime) and moment.utcoffset() is None:
        raise ValueError("a time needs its UTC offset, like 2018-03-15T10:00:00-05:00")
    return moment


def parse_offset(value: str) -> timedelta:
    """`-14d`, `+2h`, `-30m`, `0d`: a signed number of days, hours or minutes."""
    match = OFFSET.fullmatch(value)
    if not match:
        raise ValueError("use days, hours or minutes, like -14d, +2h or -30m")
    sign, number, unit = match.groups()
    return timedelta(**{UNITS[unit]: -int(number) if sign == "-" else int(number)})


def parse_expires(value: str) -> timedelta:
    """`1d`, `12h`, `30m`: a positive number of days, hours or minutes."""
    match = DURATION.fullmatch(value)
    if not match or int(match.group(1)) == 0:
        raise ValueError("use a positive number of days, hours or minutes, like 1d, 12h or 30m")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


def parse_clock(value: str) -> time:
    """`HH:MM` on a 24-hour clock."""
    match = CLOCK.fullmatch(value)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError('use 24-hour HH:MM, like "09:00"')
    return time(int(match.group(1)), int(match.group(2)))
